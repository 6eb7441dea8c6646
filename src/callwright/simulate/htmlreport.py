"""The simulator's HTML report: ``index.html`` for the run, and a page per call in ``calls/``.

Self-contained and offline: the CSS, the few lines of script and the charts (:mod:`.charts`, SVG
written by hand) are inline, the recordings are linked relatively, and nothing names another
host, so the folder can be zipped, attached to a CI run and opened from disk anywhere.

``index.html``: the totals (safety apart) with their 95 % intervals, the comparison with a
baseline, the pass rate for every value of every matrix dimension, in the voice modes the WER for
each value (and WER against SNR, one line per value of the other dimensions, when the noise
varies) and the spread of voice-to-voice latency; then every case, linked to its runs' pages.

``calls/NNN-SEED.html``: the call's verdict and failures; in the voice modes its stereo recording
(``NNN-SEED.wav``, caller left, agent right) and each side alone (``NNN-SEED.caller.ogg``,
``.agent.ogg``, Opus, about a tenth of the WAV: a page opened from disk cannot split the channels
itself, since browsers refuse Web Audio the samples of a ``file://`` recording); both sides' audio
and the call's events on one timeline (click to play from there); the transcript, turn by turn,
with what the caller meant, what the agent heard, what it said, and the failures at their turn.

**Personal data.** The report holds the calls' words and audio as the agent's traces do.
Callwright redacts neither (its only redaction is of credentials in URLs and error messages), so the
report does not either: the callers are synthetic, but a suite's facts can be copied from real
calls. Keep the report where the traces are kept.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from .baseline import Comparison
from .charts import Bar, bars, histogram, lines
from .judge import percentile
from .runner import CaseResult
from .stats import wilson
from .tally import by_case, by_dimension, call_stem, label, runs_per_case, verdict
from .timeline import Moment

ENVELOPE_S = 0.05  # the recording's loudness is drawn per 50 ms


def write_html(results: Sequence[CaseResult], folder: Path, suite: str, comparison: Comparison | None = None) -> Path:
    """``folder/index.html`` and ``folder/calls/NNN-SEED.html`` for every run; the index's path."""
    calls = folder / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    pages: dict[int, str] = {}
    for number, result in enumerate(results, start=1):
        stem = call_stem(number, result.case)
        recording = _Recording.read(calls / f"{stem}.wav")
        (calls / f"{stem}.html").write_text(_call_page(result, stem, suite, recording))
        pages[id(result)] = f"calls/{stem}.html"
    index = folder / "index.html"
    index.write_text(_index_page(results, suite, comparison, pages))
    return index


# ------------------------------------------------------------------------------------------ index
def _index_page(results: Sequence[CaseResult], suite: str, comparison: Comparison | None, pages: dict[int, str]) -> str:
    repeats = runs_per_case(results)
    cases = by_case(results)
    safe = [r for r in results if r.case.scenario.safety]
    other = [r for r in results if not r.case.scenario.safety]
    mode = results[0].mode if results else "text"
    heard = [(r, h) for r in results for h in getattr(r, "heard", [])]
    wers = [h.wer for _, h in heard if h.wer is not None]
    latencies = [h.latency_ms for _, h in heard if h.latency_ms is not None]
    cards = [
        _card("safety", *_counts(safe), runs=True) if safe else '<div class="card none"><div class="big">-</div>no safety cases</div>',
        _card("other", *_counts(other), runs=True),
    ]
    if repeats > 1:
        cards.append(_card(f"pass^{repeats}", sum(verdict(runs) == "pass" for runs in cases.values()), len(cases)))
    if wers:
        cards.append(f'<div class="card"><div class="big">{statistics.fmean(wers):.1%}</div>mean WER over {len(wers)} spoken turns</div>')
    if latencies:
        cards.append(f'<div class="card"><div class="big">{percentile(latencies, 50):,.0f} ms</div>'
                     f"voice-to-voice p50 (p90 {percentile(latencies, 90):,.0f} ms)</div>")
    body = [
        f"<h1>{escape(suite)}</h1>",
        f'<p class="sub">{len(cases)} cases, {len(results)} runs ({repeats} per case), {escape(mode)} mode</p>',
        f'<div class="cards">{"".join(cards)}</div>',
    ]
    if comparison is not None:
        body.append(_comparison(comparison))
    body.append(_pass_rates(results))
    if wers:
        body.append(_wer_charts(results))
    if latencies:
        marks = {f"p{p}": v for p in (50, 90, 95) if (v := percentile(latencies, p)) is not None}
        body.append(f'<section id="latency"><h2>Voice-to-voice latency, as the caller heard it</h2>'
                    f'<p class="sub">{len(latencies)} answers: from the end of the caller\'s voice to the first sound of the reply.</p>'
                    f"{histogram(latencies, unit='ms', marks=marks, title='voice-to-voice latency')}</section>")
    body.append(_case_table(cases, pages, repeats))
    return _page(f"{suite}: simulator report", "".join(body))


def _card(name: str, passed: int, total: int, *, runs: bool = False) -> str:
    low, high = wilson(passed, total)
    interval = f"95 % interval {low:.0%}-{high:.0%}" if total else "none"
    what = "runs passed" if runs else "cases passed every run"
    bad = " bad" if passed < total else ""
    return f'<div class="card{bad}"><div class="big">{passed}/{total}</div>{escape(name)}: {what}<br><span class="sub">{interval}</span></div>'


def _comparison(comparison: Comparison) -> str:
    regressions = comparison.regressions
    rows = []
    for c in sorted(comparison.changes, key=lambda c: (not c.regression, c.p if c.p is not None else 0.0)):
        if not c.regression and c.now[1] and c.before[1] and c.now[0] / c.now[1] >= c.before[0] / c.before[1]:
            continue  # not worse: nothing to read
        p = f"{c.p:.3g}" if c.p is not None else "safety rule"
        rows.append(f'<tr class="{"fail" if c.regression else ""}"><td>{"REGRESSION" if c.regression else "within noise"}</td>'
                    f"<td>{escape(c.kind)}</td><td>{escape(c.name)}</td><td>{_rate(c.before)}</td><td>{_rate(c.now)}</td>"
                    f"<td>{p}</td></tr>")
    head = (f"{len(regressions)} regressions beyond noise" if regressions else "No regression beyond noise")
    table = ("<table><tr><th></th><th>what</th><th>name</th><th>before</th><th>now</th><th>p (one-sided Fisher)</th></tr>"
             + "".join(rows) + "</table>") if rows else "<p>No pass rate fell.</p>"
    extra = []
    if comparison.new:
        extra.append(f"{len(comparison.new)} new cases, not compared")
    if comparison.gone:
        extra.append(f"{len(comparison.gone)} cases no longer run")
    return (f'<section id="baseline" class="{"bad" if regressions else ""}"><h2>Against {escape(comparison.baseline)}: {head}</h2>'
            f'<p class="sub">{len(comparison.changes)} pass rates compared; family-wise error {comparison.alpha:g} (Holm). '
            f"{escape('; '.join(extra))}</p>{table}</section>")


def _pass_rates(results: Sequence[CaseResult]) -> str:
    charts = []
    scenarios: dict[str, list[int]] = {}
    for r in results:
        cell = scenarios.setdefault(r.case.scenario.name, [0, 0])
        cell[0] += r.passed
        cell[1] += 1
    groups = {**by_dimension(results), "scenario": {k: (v[0], v[1]) for k, v in scenarios.items()}}
    for dimension, values in groups.items():
        rows = [Bar(value, p / t, *wilson(p, t), note=f"{p}/{t}", bad=p < t) for value, (p, t) in values.items()]
        charts.append(f'<figure data-dimension="{escape(dimension)}"><figcaption>{escape(dimension)}</figcaption>'
                      f"{bars(rows, title=f'pass rate by {dimension}')}</figure>")
    return ('<section id="pass-rates"><h2>Pass rate by dimension</h2><p class="sub">Runs passed for each value; '
            "the whiskers are the Wilson 95 % interval.</p>" + "".join(charts) + "</section>")


def _wer_charts(results: Sequence[CaseResult]) -> str:
    per_value: dict[str, dict[str, list[float]]] = {}
    for r in results:
        wers = [h.wer for h in getattr(r, "heard", []) if h.wer is not None]
        for dimension, value in r.case.dimensions.items():
            per_value.setdefault(dimension, {}).setdefault(label(value), []).extend(wers)
    charts = []
    everything = [w for values in per_value.values() for ws in values.values() for w in ws]
    scale = _ceiling(max(everything, default=0.0))
    for dimension, values in per_value.items():
        rows = [Bar(value, statistics.fmean(ws) if ws else 0.0, note=f"{len(ws)} turns") for value, ws in values.items()]
        charts.append(f'<figure><figcaption>{escape(dimension)}</figcaption>{bars(rows, scale=scale, title=f"WER by {dimension}")}</figure>')
    charts.append(_wer_against_snr(results))
    return ('<section id="wer"><h2>Word error rate, what the caller meant against what the agent heard</h2>'
            '<p class="sub">Mean WER of the spoken turns for each value.</p>' + "".join(charts) + "</section>")


def _wer_against_snr(results: Sequence[CaseResult]) -> str:
    """WER for each SNR the cases were heard at (and "clean"), one line per value of the first other
    dimension; "" when the SNR did not vary."""
    def snr(r: CaseResult) -> str:
        environment = r.case.scenario.environment
        noise = environment.noise if environment is not None else None
        return "clean" if noise is None else f"{noise.snr_db:g} dB"

    spoken = [r for r in results if any(h.wer is not None for h in getattr(r, "heard", []))]
    levels = sorted({snr(r) for r in spoken}, key=lambda s: float("inf") if s == "clean" else float(s.split()[0]))
    if len(levels) < 2:
        return ""
    others = [d for d in (spoken[0].case.dimensions if spoken else {}) if not d.startswith("environment")]
    by = others[0] if others else None
    series: dict[str, dict[str, list[float]]] = {}
    for r in spoken:
        name = label(r.case.dimensions.get(by)) if by else "every case"
        series.setdefault(name, {}).setdefault(snr(r), []).extend(h.wer for h in r.heard if h.wer is not None)  # type: ignore[attr-defined]
    values = {name: [statistics.fmean(cells[level]) if cells.get(level) else None for level in levels] for name, cells in series.items()}
    scale = _ceiling(max((v for vs in values.values() for v in vs if v is not None), default=0.0))
    caption = f"WER against SNR, one line per {by}" if by else "WER against SNR"
    return (f'<figure id="wer-snr"><figcaption>{escape(caption)}</figcaption>'
            f'{lines(levels, values, scale=scale, x_title="signal-to-noise ratio", title=caption)}</figure>')


def _case_table(cases: dict[str, list[CaseResult]], pages: dict[int, str], repeats: int) -> str:
    spoken = any(getattr(r, "heard", None) for runs in cases.values() for r in runs)  # WER and latency columns
    rows = []
    for name, runs in cases.items():
        first = runs[0]
        links = " ".join(f'<a href="{escape(pages[id(r)])}" class="{"" if r.passed else "fail"}">{k}</a>'
                         for k, r in enumerate(runs, start=1))
        heard = [h for r in runs for h in getattr(r, "heard", [])]
        wers = [h.wer for h in heard if h.wer is not None]
        latencies = [h.latency_ms for h in heard if h.latency_ms is not None]
        failed = sorted({f.check for r in runs for f in r.transcript.failures})
        state = verdict(runs)
        rows.append(
            f'<tr class="{state.lower()}"><td><a href="{escape(pages[id(first)])}">{escape(name)}</a>'
            f'{" <span class=tag>safety</span>" if first.case.scenario.safety else ""}</td>'
            f'<td class="verdict">{state}</td><td>{sum(r.passed for r in runs)}/{len(runs)}</td><td>{links}</td>'
            f"<td>{first.case.seed}</td><td>{first.turns}</td>"
            + (f'<td>{f"{statistics.fmean(wers):.0%}" if wers else ""}</td>'
               f'<td>{f"{percentile(latencies, 50):,.0f}" if latencies else ""}</td>' if spoken else "")
            + f"<td>{escape(', '.join(failed))}</td></tr>")
    return ('<section id="cases"><h2>Cases</h2><table class="cases"><tr><th>case</th><th></th><th>passed</th>'
            f'<th>{"runs" if repeats > 1 else "page"}</th><th>seed</th><th>turns</th>'
            + ("<th>WER</th><th>p50 ms</th>" if spoken else "")
            + "<th>failed checks</th></tr>" + "".join(rows) + "</table></section>")


# ------------------------------------------------------------------------------------------ a call
class _Recording:
    """A run's stereo recording: its length, each side's loudness, and each side as its own file."""

    def __init__(self, name: str, seconds: float, envelope: list[tuple[float, float]], sides: tuple[str, str]) -> None:
        self.name = name
        self.seconds = seconds
        self.envelope = envelope  # (caller, agent) peak per ENVELOPE_S, 0..1 on a 60 dB scale
        self.sides = sides

    @classmethod
    def read(cls, wav: Path) -> _Recording | None:
        if not wav.exists():
            return None
        import numpy as np
        import soundfile

        audio, rate = soundfile.read(str(wav), dtype="int16", always_2d=True)
        step = max(1, int(rate * ENVELOPE_S))
        usable = audio[: audio.shape[0] // step * step].astype(np.float64)
        peaks = np.abs(usable).reshape(-1, step, audio.shape[1]).max(axis=1) / 32768.0
        level = np.clip((20 * np.log10(np.maximum(peaks, 1e-6)) + 60) / 60, 0.0, 1.0)
        sides = (wav.with_suffix(".caller.ogg").name, wav.with_suffix(".agent.ogg").name)
        for channel, side in enumerate(sides):  # Opus, mono: each side alone, small
            soundfile.write(str(wav.parent / side), audio[:, min(channel, audio.shape[1] - 1)], rate, format="OGG", subtype="OPUS")
        envelope = [(float(a), float(b)) for a, b in (level if level.shape[1] > 1 else np.repeat(level, 2, axis=1))]
        return cls(wav.name, audio.shape[0] / rate, envelope, sides)


def _call_page(result: CaseResult, stem: str, suite: str, recording: _Recording | None) -> str:
    case = result.case
    turn_times = _turn_times(result)
    facts = [f"seed {case.seed}", f"{result.mode} mode", f"{result.turns} caller turn{'' if result.turns == 1 else 's'}"]
    if case.repeat:
        facts.append(f"run {case.repeat + 1}")
    facts += [f"{k} = {label(v)}" for k, v in case.dimensions.items()]
    body = [
        '<p><a href="../index.html">← all cases</a></p>',
        f'<h1><span class="verdict {"pass" if result.passed else "fail"}">{"PASS" if result.passed else "FAIL"}</span> {escape(case.name)}'
        f'{" <span class=tag>safety</span>" if case.scenario.safety else ""}</h1>',
        f'<p class="sub">{escape(" · ".join(facts))}</p>',
    ]
    if result.transcript.failures:
        items = "".join(
            f'<li><a href="#turn-{f.turn}">turn {f.turn}</a>: <b>{escape(f.check)}</b>: {escape(f.detail)}</li>' if f.turn is not None
            else f"<li>the call: <b>{escape(f.check)}</b>: {escape(f.detail)}</li>"
            for f in result.transcript.failures)
        body.append(f'<section class="bad" id="failures"><h2>What failed</h2><ul>{items}</ul></section>')
    if recording is not None:
        body.append(_player(recording))
    if recording is not None or _spans_time(result.timeline):
        body.append(_timeline(result, recording, turn_times))
    body.append(_transcript(result, turn_times if recording is not None else {}))
    body.append(_turn_taking(result))
    if result.timeline:
        rows = "".join(f"<tr><td>{m.t_ms / 1000:.2f}</td><td>{'' if m.turn is None else m.turn}</td><td>{escape(m.type)}</td>"
                       f"<td>{escape(m.detail)}</td></tr>" for m in result.timeline)
        body.append(f'<section id="events"><h2>Events</h2><table class="events"><tr><th>s</th><th>turn</th><th>event</th>'
                    f"<th></th></tr>{rows}</table></section>")
    notes = [("Not judged over this transport", result.unjudged), (f"Left out in {result.mode} mode", sorted(set(result.skipped)))]
    for title, entries in notes:
        if entries:
            body.append(f"<section><h2>{escape(title)}</h2><ul>{''.join(f'<li>{escape(e)}</li>' for e in entries)}</ul></section>")
    return _page(f"{case.name}: {suite}", "".join(body), script=PLAYER_JS if recording is not None else "")


def _player(recording: _Recording) -> str:
    choices = [("both sides (caller left, agent right)", recording.name), ("the caller alone", recording.sides[0]),
               ("the agent alone", recording.sides[1])]
    buttons = "".join(f'<label><input type="radio" name="side" value="{escape(src)}"{" checked" if i == 0 else ""}> {escape(text)}</label>'
                      for i, (text, src) in enumerate(choices))
    return (f'<section id="recording"><h2>The call</h2><audio id="audio" controls preload="metadata" src="{escape(recording.name)}">'
            f'</audio><div class="sides">{buttons}</div></section>')


def _timeline(result: CaseResult, recording: _Recording | None, turn_times: dict[int, float]) -> str:
    """Both sides' loudness and the events on one time axis (seconds of the call)."""
    width, gutter = 1000, 56  # the lanes' names left of the time axis
    end = max([recording.seconds if recording else 0.0, *(m.t_ms / 1000 for m in result.timeline)]) or 1.0

    def x(t: float) -> float:
        return gutter + t / end * (width - gutter - 10)

    out = [f'<svg id="timeline" class="timeline" viewBox="0 0 {width} 150" data-seconds="{end:.3f}" data-left="{gutter}" '
           f'data-right="{width - 10}" role="img" aria-label="the call on a time axis">']
    for lane, (name, y0) in enumerate((("caller", 4), ("agent", 52), ("events", 96))):
        out.append(f'<text class="lane" x="4" y="{y0 + 26}">{name}</text>')
        if name == "events":
            break
        if recording is not None:
            path = "".join(f"M{x(i * ENVELOPE_S):.1f},{y0 + 22 - 20 * side[lane]:.1f}V{y0 + 22 + 20 * side[lane]:.1f}"
                           for i, side in enumerate(recording.envelope) if side[lane] > 0.05)
            out.append(f'<path class="wave {name}" d="{path}"/>')
    for m in result.timeline:
        tip = f"{m.t_ms / 1000:.2f} s  {m.type}" + (f" (turn {m.turn})" if m.turn is not None else "") + (f": {m.detail}" if m.detail else "")
        out.append(f'<line class="event {_kind(m)}" x1="{x(m.t_ms / 1000):.1f}" y1="100" x2="{x(m.t_ms / 1000):.1f}" y2="122">'
                   f"<title>{escape(tip)}</title></line>")
    for failure in result.transcript.failures:
        at = turn_times.get(failure.turn) if failure.turn is not None else None
        if at is not None:
            out.append(f'<path class="failmark" d="M{x(at):.1f},126l-6,10h12z"><title>turn {failure.turn}: {escape(failure.check)}: '
                       f"{escape(failure.detail)}</title></path>")
    for tick in range(0, int(end) + 1, max(1, int(end) // 10 or 1)):
        out.append(f'<text class="tick" x="{x(tick):.1f}" y="148" text-anchor="middle">{tick}s</text>')
    out.append(f'<line id="playhead" class="playhead" x1="{gutter}" y1="0" x2="{gutter}" y2="136"/></svg>')
    legend = "".join(f'<span class="key {k}">{k}</span>' for k in ("heard", "said", "tool", "trouble", "other"))
    return f'<section id="when"><h2>Timeline</h2>{"".join(out)}<p class="sub">events: {legend}; ▲ a failed check. Click to play from there.</p></section>'


def _transcript(result: CaseResult, turn_times: dict[int, float]) -> str:
    heard = list(getattr(result, "heard", []))
    failures: dict[int | None, list[Any]] = {}
    for f in result.transcript.failures:
        failures.setdefault(f.turn, []).append(f)
    rows = []
    for (caller, agent), (turn, spoken) in zip(result.transcript.exchanges, _caller_turns(result), strict=True):
        at = ""
        if turn == 0:
            who, meant, got = "0", "(the call is answered)", ""
        elif turn is None:  # a backchannel the agent took for a turn
            who, meant, got = "", escape(caller), ""
        else:
            who = str(turn)
            if spoken and heard:
                h = heard.pop(0)
                wer = f" <span class=sub>WER {h.wer:.0%}</span>" if h.wer is not None else ""
                known = h.heard or h.wer is not None  # over Twilio, what the agent heard is not known
                got = (escape(h.heard) if h.heard else "<i>nothing</i>") + wer if known else '<span class="sub">not known here</span>'
                meant = escape(h.meant)
                if h.latency_ms is not None:
                    at = f"{h.latency_ms:,.0f} ms"
                for note in ("said again", "over the agent"):
                    if note in caller:
                        meant += f" <span class=sub>({note})</span>"
            else:
                meant, got = escape(caller.split("  (heard:")[0]), ""
        when = turn_times.get(turn) if turn is not None else None
        seek = f' data-t="{when:.2f}"' if when is not None else ""
        problems = failures.get(turn, []) if turn else []
        notes = "".join(f'<div class="problem"><b>{escape(f.check)}</b>: {escape(f.detail)}</div>' for f in problems)
        rows.append(f'<tr id="turn-{who or "over"}" class="{"failed" if problems else ""}"{seek}><td>{who}</td><td>{meant}</td><td>{got}</td>'
                    f"<td>{escape(agent)}{notes}</td><td>{at}</td></tr>")
    end = "".join(f'<div class="problem"><b>{escape(f.check)}</b>: {escape(f.detail)}</div>' for f in failures.get(None, []))
    return ('<section id="transcript"><h2>Turn by turn</h2><table class="transcript"><tr><th>turn</th><th>the caller meant</th>'
            "<th>the agent heard</th><th>the agent said</th><th>latency</th></tr>" + "".join(rows)
            + (f'<tr id="turn-None" class="failed"><td></td><td colspan="4">after the call{end}</td></tr>' if end else "")
            + "</table></section>")


TURN_TAKING = (  # what the voice modes measure of who talks when (VoiceResult), as the page names it
    ("interruptions", "said over the agent"), ("backchannels", "backchannels over the agent"),
    ("cut_offs", "the agent began while the caller was mid-sentence (s)"), ("dead_air", "dead air the caller waited through (s)"),
    ("stray_yields", "the agent stopped for no caller words (s)"), ("ignored", "sound the agent heard over itself and let pass"),
)


def _turn_taking(result: CaseResult) -> str:
    items = []
    for said in getattr(result, "interruptions", []):
        how = (f"yielded after {said['yield_ms']:,.0f} ms, {said['talk_over_ms']:,.0f} ms of talking over each other"
               if said["yielded"] else "the agent talked on over it")
        items.append(f"<li><b>interruption</b> at {said['at_s']:.2f} s, &ldquo;{escape(said['said'])}&rdquo;: {escape(how)}</li>")
    for said in getattr(result, "backchannels", []):
        how = "the agent stopped for it (a false yield)" if said["yielded"] else "the agent talked on, as it should"
        items.append(f"<li><b>backchannel</b> at {said['at_s']:.2f} s, &ldquo;{escape(said['said'])}&rdquo;: {escape(how)}</li>")
    for name, title in TURN_TAKING[2:5]:
        value = getattr(result, name, None)
        if value:
            items.append(f"<li><b>{escape(title)}</b>: {', '.join(f'{v:.2f}' for v in value)}</li>")
    ignored = getattr(result, "ignored", None)
    if ignored:
        counted = ", ".join(f"{count} {escape(reason)}" for reason, count in sorted(ignored.items()))
        items.append(f"<li><b>{escape(TURN_TAKING[5][1])}</b>: {counted}</li>")
    return f'<section id="turn-taking"><h2>Turn-taking</h2><ul>{"".join(items)}</ul></section>' if items else ""


def _turn_times(result: CaseResult) -> dict[int, float]:
    """When each caller turn's answer came, in seconds: the agent's turns matched to the transcript's
    replies in order, by their words."""
    said = [m for m in result.timeline if m.type == "agent.turn"]
    times: dict[int, float] = {}
    position = 0
    for (_, reply), (turn, _) in zip(result.transcript.exchanges, _caller_turns(result), strict=True):
        words = " ".join(reply.split())[:60]
        for i in range(position, len(said)):
            if words and said[i].detail.startswith(words):
                if turn is not None:
                    times[turn] = said[i].t_ms / 1000
                position = i + 1
                break
    return times


def _caller_turns(result: CaseResult) -> list[tuple[int | None, bool]]:
    """For each exchange of the transcript: the caller turn it is (0: the greeting; None: a
    backchannel the agent answered, not a turn), and whether the caller spoke it (a ``heard`` entry)."""
    out: list[tuple[int | None, bool]] = []
    turn = 0
    for n, (caller, _) in enumerate(result.transcript.exchanges):
        if n == 0 and caller == "":
            out.append((0, False))
        elif re.fullmatch(r"\[.* over the agent\]", caller):
            out.append((None, False))
        else:
            turn += 1
            out.append((turn, not caller.startswith(("[keys", "[web"))))
    return out


def _spans_time(timeline: Sequence[Moment]) -> bool:
    return bool(timeline) and timeline[-1].t_ms - timeline[0].t_ms > 100


def _kind(moment: Moment) -> str:
    if moment.type in ("transcript.final", "vad.speech_started", "vad.speech_stopped"):
        return "heard"
    if moment.type in ("agent.turn", "barge_in", "vad.ignored"):
        return "said"
    if moment.type.startswith(("tool.", "form.", "message.", "knowledge.")):
        return "tool"
    if moment.type in ("error", "misheard", "safety", "transfer"):
        return "trouble"
    return "other"


def _counts(results: Sequence[CaseResult]) -> tuple[int, int]:
    return (sum(r.passed for r in results), len(results))


def _rate(counts: tuple[int, int]) -> str:
    low, high = wilson(*counts)
    return f"{counts[0]}/{counts[1]} <span class=sub>[{low:.0%}-{high:.0%}]</span>"


def _ceiling(value: float) -> float:
    """The chart's scale: the next tenth up (a WER of 4 % is drawn on 0-10 %), at least 10 %."""
    return max(0.1, -(-value * 10 // 1) / 10)


def _page(title: str, body: str, *, script: str = "") -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>{body}"
            '<footer>Written by <code>callwright simulate --report</code>. It holds the calls\' words and audio, '
            "as the agent's traces do: keep it where you keep those.</footer></main>"
            + (f"<script>{script}</script>" if script else "") + "</body></html>")


CSS = """
:root{--ink:#1a202c;--soft:#4a5568;--line:#e2e8f0;--pass:#2f855a;--fail:#c53030;--flaky:#b7791f;--bar:#3182ce}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f7fafc}
main{max-width:1000px;margin:0 auto;padding:16px 24px 40px;background:#fff;min-height:100vh}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 6px}
.sub{color:var(--soft);font-size:13px}a{color:#2b6cb0}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}
.card{border:1px solid var(--line);border-left:5px solid var(--pass);border-radius:6px;padding:8px 14px;min-width:150px}
.card.bad{border-left-color:var(--fail)}.card.none{border-left-color:var(--line)}.card .big{font-size:24px;font-weight:600}
section.bad{border-left:4px solid var(--fail);padding-left:12px}
figure{margin:10px 0 18px}figcaption{font-weight:600;font-size:14px;margin-bottom:2px}
svg.chart{width:100%;max-width:760px;height:auto;display:block}
svg text{font:12px system-ui,sans-serif;fill:var(--soft)}svg .label{fill:var(--ink)}
.grid{stroke:var(--line)}.axis{stroke:var(--soft)}.bar{fill:var(--bar)}.bar.bad{fill:#e53e3e}
.ci{stroke:var(--ink);stroke-width:1.3;fill:none}.bin{fill:var(--bar)}
.mark{stroke:#c05621;stroke-dasharray:4 3}.marklabel{fill:#c05621}.series{fill:none;stroke-width:2}
table{border-collapse:collapse;width:100%;font-size:14px}th{text-align:left;color:var(--soft);font-weight:600}
td,th{border-bottom:1px solid var(--line);padding:5px 6px;vertical-align:top}
tr.fail td.verdict,.verdict.fail{color:var(--fail);font-weight:700}tr.flaky td.verdict{color:var(--flaky);font-weight:700}
tr.pass td.verdict,.verdict.pass{color:var(--pass);font-weight:700}a.fail{color:var(--fail);font-weight:700}
.tag{font-size:11px;background:#fed7d7;color:#822727;border-radius:3px;padding:1px 5px;vertical-align:middle}
tr.failed{background:#fff5f5}.problem{color:var(--fail);font-size:13px;margin-top:4px}
tr[data-t]{cursor:pointer}
audio{width:100%;margin:6px 0}.sides label{margin-right:18px;font-size:14px}
svg.timeline{width:100%;height:auto;border:1px solid var(--line);border-radius:4px;cursor:pointer;background:#fcfcfd}
.wave{stroke-width:2.2}.wave.caller{stroke:#2b6cb0}.wave.agent{stroke:#2f855a}.lane{fill:var(--ink);font-weight:600}
.event{stroke-width:2}.event.heard,.key.heard{stroke:#2b6cb0;color:#2b6cb0}.event.said,.key.said{stroke:#2f855a;color:#2f855a}
.event.tool,.key.tool{stroke:#6b46c1;color:#6b46c1}.event.trouble,.key.trouble{stroke:#c53030;color:#c53030}
.event.other,.key.other{stroke:#a0aec0;color:#718096}.key{margin:0 6px;font-weight:600}
.failmark{fill:var(--fail)}.playhead{stroke:#1a202c;stroke-width:1.5}
footer{margin-top:36px;color:var(--soft);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
"""

PLAYER_JS = """
const audio = document.getElementById('audio');
const timeline = document.getElementById('timeline');
const seconds = timeline ? parseFloat(timeline.dataset.seconds) : 0;
function playFrom(t) { audio.currentTime = t; audio.play(); }
document.querySelectorAll('input[name=side]').forEach(input => input.addEventListener('change', () => {
  const at = audio.currentTime, playing = !audio.paused;
  audio.src = input.value;
  audio.addEventListener('loadedmetadata', () => { audio.currentTime = at; if (playing) audio.play(); }, {once: true});
}));
if (timeline) {
  timeline.addEventListener('click', e => {
    const box = timeline.getBoundingClientRect();
    playFrom((e.clientX - box.left) / box.width * seconds);
  });
  const head = document.getElementById('playhead');
  audio.addEventListener('timeupdate', () => {
    const x = audio.currentTime / seconds * 1000;
    head.setAttribute('x1', x); head.setAttribute('x2', x);
  });
}
document.querySelectorAll('tr[data-t]').forEach(row => row.addEventListener('click', () => playFrom(parseFloat(row.dataset.t))));
"""
