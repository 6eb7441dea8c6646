"""The simulator's reports: the statistics behind --repeat and --baseline, a regression caught on a
broken agent, the progress line, and the HTML report opened in a real browser (offline, charts
drawn, a call's recording playable, links followed)."""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callwright.agent.app import AgentApp
from callwright.agent.spec import load_definition
from callwright.simulate import report, tally
from callwright.simulate.baseline import compare
from callwright.simulate.progress import Progress
from callwright.simulate.runner import CaseResult, run_text_cases
from callwright.simulate.scenario import ScenarioSuite, cases, repeated
from callwright.simulate.stats import holm, pass_hat_k, wilson, worse_p
from callwright.testing.conversations import Failure, Transcript

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"
CHROMIUM = "/usr/bin/chromium"
STATUS = {
    "name": "where is my order",
    "persona": {"name": "Sam", "phone": "+14155550123"},
    "turns": [{"say": "hi, can you check on order one two three four", "expect": {"says": ["being packed"]}}],
    "expect": {"tools": [{"name": "order_status", "arguments": {"order_number": "1234"}}]},
}
SUITE = f"""
agent: order-desk
matrix:
  persona.emotion: [neutral, angry]
  seed: 5
scenarios:
  - {json.dumps(STATUS)}
  - {json.dumps({**STATUS, "name": "order status, safety", "safety": True})}
"""


# ------------------------------------------------------------------ statistics
def test_wilson_intervals_match_newcombes_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score, no continuity correction)
    for (passed, runs), (low, high) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                                        (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson(passed, runs)
        assert (round(got[0], 4), round(got[1], 4)) == (low, high), (passed, runs, got)
    # every run passed: the lower end is n / (n + z²), the upper end 1
    assert wilson(5, 5)[0] == pytest.approx(5 / (5 + 1.959963984540054**2), abs=1e-12) and wilson(5, 5)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)


def test_pass_hat_k_is_the_chance_that_k_runs_all_pass() -> None:
    assert pass_hat_k(3, 5, 2) == 3 / 10  # C(3,2) / C(5,2)
    assert pass_hat_k(5, 5, 5) == 1.0 and pass_hat_k(4, 5, 5) == 0.0 and pass_hat_k(4, 5, 1) == 0.8
    with pytest.raises(ValueError, match="1 <= k <= runs"):
        pass_hat_k(1, 2, 3)


def test_the_one_sided_fisher_test_gives_the_exact_hypergeometric_tail() -> None:
    from scipy.stats import fisher_exact

    assert worse_p((10, 10), (5, 10)) == pytest.approx(3003 / 184756, rel=1e-12)  # C(15,5) / C(20,10)
    assert worse_p((1, 1), (0, 1)) == 0.5  # one run each can never show a regression
    assert worse_p((3, 3), (0, 3)) == pytest.approx(1 / 20)
    assert worse_p((2, 5), (5, 5)) == 1.0  # better is never worse
    for before, now in [((9, 12), (4, 11)), ((20, 20), (17, 20)), ((0, 4), (0, 6)), ((7, 30), (2, 25))]:
        table = [[now[0], now[1] - now[0]], [before[0], before[1] - before[0]]]
        assert math.isclose(worse_p(before, now), fisher_exact(table, alternative="less")[1], rel_tol=1e-9), (before, now)


def test_holm_rejects_step_by_step_and_stops_at_the_first_that_fails() -> None:
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]  # 0.03 > 0.05/2
    assert holm([0.01, 0.02, 0.04]) == [True, True, True]
    assert holm([0.2]) == [False] and holm([]) == []


# ------------------------------------------------------------------ baseline
def test_the_safety_rule_and_the_noise_rule() -> None:
    def run(*cases: tuple[str, bool, bool]) -> dict[str, Any]:
        other = [c for c in cases if not c[2]]
        return {"other": [sum(c[1] for c in other), len(other)], "by_dimension": {},
                "cases": [{"name": n, "passed": p, "safety": s} for n, p, s in cases]}

    before = run(("a", True, False), ("a", True, False), ("a", True, False), ("s", True, True), ("known", False, True))
    now = run(("a", True, False), ("a", False, False), ("a", True, False), ("s", False, True), ("known", False, True),
              ("new safety", False, True), ("new", False, False))
    comparison = compare(before, now)
    # 3/3 -> 2/3 is noise (p = 0.5); a safety case that passed before and fails now never is
    assert [(c.name, c.why) for c in comparison.regressions] == [
        ("s", "a safety case that passed before fails"), ("new safety", "a new safety case fails")]
    assert comparison.new == ["new safety", "new"] and comparison.gone == []
    assert not compare(now, now).regressions  # failing cases that failed before too are no regression
    assert "within noise  case a: 3/3 [44%-100%] -> 2/3 [21%-94%], p=0.5" in comparison.render()


def test_a_broken_agent_is_a_regression_against_a_baseline_beyond_noise(tmp_path: Path) -> None:
    """The order desk with its order lookup broken (every order reads as lost), run three times per
    case by the command, against an earlier results.json in which every run passed."""
    broken = tmp_path / "order-desk"
    shutil.copytree(EXAMPLES / "order-desk", broken, ignore=shutil.ignore_patterns("conversations"))
    tools = broken / "tools.py"
    tools.write_text(tools.read_text().replace("found = ORDERS.get(", "found = None and ORDERS.get("))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    names = [c.name for c in cases(ScenarioSuite.model_validate(_yaml(SUITE)))]
    earlier = {"safety": [6, 6], "other": [6, 6], "by_dimension": {"persona.emotion": {"neutral": [6, 6], "angry": [6, 6]}},
               "cases": [{"name": n, "passed": True, "safety": "safety" in n} for n in names for _ in range(3)]}
    (tmp_path / "earlier.json").write_text(json.dumps(earlier))
    done = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "simulate", str(suite), "--agent", str(broken), "--repeat", "3",
         "--baseline", str(tmp_path / "earlier.json"), "--report", str(tmp_path / "report"), "--show", "none"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    # a pipe, not a terminal: one plain progress line per run
    assert [line.split("]")[0] for line in done.stderr.splitlines() if line.startswith("[")] == [f"[{i}/12" for i in range(1, 13)]
    assert re.search(r"^FAIL +where is my order \[persona.emotion=neutral\] +0/3 runs, first seed \d+$", done.stdout, re.M), done.stdout
    assert "pass^3: 0/4 cases" in done.stdout
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    regressions = sorted(c["name"] for c in results["baseline"]["changes"] if c["regression"])
    # overall and each emotion 6/6 -> 0/6 (p = 1/924) are beyond noise; each case's 3/3 -> 0/3 (p = 0.05)
    # is not, among 5 comparisons; each safety case that passed before is a regression whatever the test says
    assert regressions == ["order status, safety [persona.emotion=angry]", "order status, safety [persona.emotion=neutral]",
                           "other (not safety)", "persona.emotion=angry", "persona.emotion=neutral"], results["baseline"]
    assert results["runs_per_case"] == 3 and results["pass_k"] == [0, 4]
    assert [c["seed"] for c in results["cases"][:3]] == results["by_case"][names[0]]["seeds"]
    assert len(set(results["by_case"][names[0]]["seeds"])) == 3  # each run its own seed
    assert "REGRESSION  overall other (not safety): 6/6 [61%-100%] -> 0/6 [0%-39%], p=0.00108" in done.stdout
    # against itself: the same failures are no regression, and the exit status says so
    again = subprocess.run(
        [sys.executable, "-m", "callwright.cli", "simulate", str(suite), "--agent", str(broken), "--only", "neutral",
         "--baseline", str(tmp_path / "report" / "results.json"), "--show", "none"],
        capture_output=True, text=True, timeout=300,
    )
    assert again.returncode == 0 and "no regression beyond noise" in again.stdout, again.stdout + again.stderr


def test_repeats_vary_the_seed_deterministically() -> None:
    (case,) = cases(ScenarioSuite.model_validate({"scenarios": [STATUS]}))
    runs = repeated([case], 4)
    assert runs[0] == case and [r.repeat for r in runs] == [0, 1, 2, 3]
    assert len({r.seed for r in runs}) == 4 and [r.seed for r in repeated([case], 4)] == [r.seed for r in runs]
    assert {r.name for r in runs} == {case.name}


def test_the_progress_line_is_rewritten_in_place_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    (case,) = cases(ScenarioSuite.model_validate({"scenarios": [STATUS]}))
    ticks = iter([100.0, 105.0, 172.0])
    shown = Terminal()
    progress = Progress(2, shown, clock=lambda: next(ticks))
    passed = CaseResult(case, "text", Transcript(case.name, False))
    failed = CaseResult(case, "text", Transcript(case.name, False))
    failed.transcript.failures.append(Failure(case.name, 1, "says", "'being packed' missing"))
    progress.done(passed)
    progress.done(failed)
    progress.close()
    assert shown.getvalue() == ("\r[1/2] 1 passed, 0 failed, 0:05  pass where is my order\x1b[K"
                                "\r[2/2] 1 passed, 1 failed, 1:12  FAIL where is my order\x1b[K\n")


# ------------------------------------------------------------------ the HTML report, in a browser
@pytest.fixture(scope="module")
def engines() -> Iterator[Any]:
    from callwright.server import build_engines, warm
    from callwright.settings import Settings

    built = build_engines(Settings.load())
    warm(built)
    yield built


async def test_the_text_report_opens_offline_with_a_chart_per_dimension_and_working_links(tmp_path: Path) -> None:
    app = AgentApp(load_definition(EXAMPLES / "order-desk"))
    suite = ScenarioSuite.model_validate({**_yaml(SUITE), "matrix": {"persona.emotion": ["neutral", "angry", "tired"], "seed": 5}})
    results = await run_text_cases(repeated(cases(suite), 2), app)
    earlier = report.to_json(results)
    earlier["cases"][0]["passed"] = False  # the earlier run failed once where this one did not
    report.write(results, tmp_path, "suite", compare(earlier, report.to_json(results), baseline="earlier.json"))
    async with _browser() as (page, requests):
        await page.goto((tmp_path / "index.html").as_uri())
        for dimension, values in (("persona.emotion", 3), ("scenario", 2)):
            chart = page.locator(f'figure[data-dimension="{dimension}"] svg')
            assert await chart.locator("rect.bar").count() == values
            assert await chart.locator("path.ci").count() == values  # an interval on every bar
            assert (await chart.bounding_box() or {}).get("width", 0) > 300  # drawn, at a readable size
        assert "No regression beyond noise" in await page.locator("#baseline h2").inner_text()
        assert await page.locator("table.cases tr").count() == 1 + 6
        await page.screenshot(path=str(tmp_path / "report-index.png"), full_page=True)  # to look at, when it fails
        await page.locator("table.cases a", has_text="1").first.click()
        await page.wait_for_load_state()
        assert await page.locator("h1").inner_text() == f"PASS {results[0].case.name}"
        assert await page.locator("table.transcript tr").count() == 1 + 2  # the greeting and one caller turn
        assert await page.locator("table.events tr", has_text="tool.call").count() == 1
        await page.locator("a", has_text="all cases").click()
        await page.wait_for_load_state()
        assert page.url.endswith("/index.html")
    assert requests and all(url.startswith("file://") for url in requests), requests


@pytest.mark.slow
async def test_a_voice_call_page_plays_both_sides_and_each_alone(engines: Any, tmp_path: Path) -> None:
    from callwright.simulate.voicecall import run_voice

    app = AgentApp(load_definition(EXAMPLES / "order-desk"))
    over_the_agent = {  # as in test_voice_mode, with a turn that fails: delivery is not "being packed"
        "name": "mm-hmm through the greeting, then cuts a long answer short for a person",
        "persona": {"name": "Sam", "phone": "+14155550123"},
        "turns": [
            {"backchannel": {"say": "mm-hmm", "sentence": 1, "after_ms": 900}},
            {"say": "how does delivery work and what does it cost", "expect": {"says": ["being packed"]}},
            {"say": "sorry, stop, can I just talk to a real person please", "interrupt": {"sentence": 1, "after_ms": 1200}},
        ],
    }
    (case,) = cases(ScenarioSuite.model_validate({"scenarios": [over_the_agent]}))
    result = await run_voice(case, app, engines, charge=0.05, recording=tmp_path / "calls" / f"{tally.call_stem(1, case)}.wav")
    assert [(f.turn, f.check) for f in result.transcript.failures] == [(1, "says")], result.transcript.render()
    report.write([result], tmp_path, "voice")
    async with _browser() as (page, requests):
        await page.goto((tmp_path / "index.html").as_uri())
        assert "mean WER over 2 spoken turns" in await page.locator(".cards").inner_text()
        assert await page.locator("#latency svg rect.bin").count() == 20
        await page.goto((tmp_path / "calls" / f"{tally.call_stem(1, case)}.html").as_uri())
        audio = page.locator("audio#audio")
        for side in ("both sides", "the caller alone", "the agent alone"):
            await page.get_by_label(side).check()
            await page.wait_for_function("document.getElementById('audio').readyState >= 1 && document.getElementById('audio').duration > 0")
            duration = await audio.evaluate("a => a.duration")
            assert duration == pytest.approx(result.virtual_s + 1.0, abs=0.2), (side, duration)  # the WAV has a second after the call
        # the transcript: the greeting and two turns (the backchannel is no turn); the failure at its turn
        assert await page.locator("table.transcript tr").count() == 1 + 3
        assert "says" in await page.locator("tr#turn-1.failed .problem").inner_text()
        assert "(over the agent)" in await page.locator("tr#turn-2").inner_text()
        assert await page.locator("svg#timeline path.failmark").count() == 1  # and on the timeline, where it was answered
        assert await page.locator("svg#timeline path.wave.caller").count() == 1
        assert await page.locator("svg#timeline line.event").count() == len(result.timeline)
        taking = await page.locator("#turn-taking").inner_text()
        assert "interruption at" in taking and "yielded after" in taking and "mm-hmm" in taking, taking
        await page.screenshot(path=str(tmp_path / "report-call.png"), full_page=True)
    assert all(url.startswith("file://") for url in requests), requests


class _browser:
    """Chromium on a page that records every request and refuses any that would leave the machine."""

    async def __aenter__(self) -> tuple[Any, list[str]]:
        from playwright.async_api import async_playwright

        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is needed for the browser test: apt-get install chromium", pytrace=False)
        self.playwright = await async_playwright().start()
        self.browser = await self.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = await self.browser.new_page(viewport={"width": 1100, "height": 900})
        self.requests: list[str] = []
        self.problems: list[str] = []
        page.on("console", lambda m: self.problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: self.problems.append(str(exc)))

        async def route(r: Any) -> None:
            self.requests.append(r.request.url)
            if r.request.url.startswith("file://"):
                await r.continue_()
            else:
                await r.abort()

        await page.route("**/*", route)
        return page, self.requests

    async def __aexit__(self, *exc: object) -> None:
        await self.browser.close()
        await self.playwright.stop()
        assert not self.problems, self.problems


def _yaml(text: str) -> dict:  # type: ignore[type-arg]
    import yaml

    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data
