"""The ``callwright`` command: run (serve an agent), chat (text), call (phone an agent with audio).

Exit codes: 0 success, 1 runtime error, 2 usage error. Errors are one line saying what and where.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import click

from . import events as ev
from .errors import CallwrightError, ConfigError
from .settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from .client import CallClient, CallClosed


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"callwright: {message}", err=True)
    sys.exit(code)


def _settings_options(func: Any) -> Any:
    """Add one ``--flag`` per entry of the settings table."""
    for f in reversed(fields(Settings)):
        name = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata['help']} [env {ENV_PREFIX}{f.name.upper()}; default {f.default!r}]"
        if f.type in ("bool", bool):
            func = click.option(name + "/--no-" + f.name.replace("_", "-"), f.name, default=None, help=help_text)(func)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            func = click.option(name, f.name, type=kind, default=None, help=help_text)(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="callwright")
def main() -> None:
    """Callwright: build, test and observe voice AI agents. Offline by default."""


# ---------------------------------------------------------------------------- run
@main.command()
@_settings_options
def run(**flags: Any) -> None:
    """Serve an agent over WebSocket, Twilio Media Streams and a browser page."""
    try:
        settings = Settings.load(**flags)
    except ConfigError as exc:
        _fail(str(exc), 2)
        return
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .server import build_server, serve

    try:
        server = build_server(settings)
    except CallwrightError as exc:
        _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1)
        return
    click.echo(
        f"Callwright: agent '{settings.agent}' on http://{settings.host}:{settings.port}  "
        f"(stt {settings.stt}, tts {settings.tts}, vad {settings.vad}; Ctrl-C to stop)"
    )
    serve(server)


# ---------------------------------------------------------------------------- chat
@main.command()
@click.option("--agent", default="front-desk", show_default=True, help="Agent: a folder with agent.yaml, a built-in name, or 'module:factory'.")
@click.option("--llm-url", default=None, help="OpenAI-compatible base URL; uses the LLM brain.")
@click.option("--llm-model", default="gpt-4o-mini", show_default=True)
@click.option("--caller", default=None, help="Caller phone number to pretend to be.")
@click.option("--events/--no-events", "show_events", default=True, show_default=True, help="Show tools, forms, emotion and SMS as they happen.")
def chat(agent: str, llm_url: str | None, llm_model: str, caller: str | None, show_events: bool) -> None:
    """Talk to an agent in the terminal, in text: a real call, without audio."""
    from .server import AgentHost, is_agent_folder, load_agent
    from .testing import TextCall
    from .transport.bus import bus_from_url
    from .transport.links import signer_from
    from .transport.webform import deliver_values

    try:
        settings = Settings.load(agent=agent, llm_url=llm_url, llm_model=llm_model)
        host = AgentHost(settings, agent) if is_agent_folder(agent) else None
        bot = host.agent() if host is not None else load_agent(settings, None)
    except CallwrightError as exc:
        _fail(str(exc), 2)
        return

    def show(event: ev.Event) -> None:
        if isinstance(event, ev.AgentText):
            click.echo(f"agent> {event.text}")
        elif show_events and (line := _describe(event)):
            click.secho(f"       · {line}", dim=True)

    async def converse() -> None:
        if host is not None:
            await host.start(signer_from(settings))
        try:
            async with TextCall(bot, caller=caller) as c, anyio.create_task_group() as tg:
                c.call.sinks.append(show)
                if settings.redis_url:  # a server sharing this Redis serves the texted form links
                    await tg.start(deliver_values, bus_from_url(settings.redis_url), c.call)
                await c.greeting()
                while c.call.end_reason is None:
                    try:
                        line = await anyio.to_thread.run_sync(input, "you> ")
                    except EOFError:
                        break
                    if line.strip():
                        await c.say(line.strip(), timeout=120)
                tg.cancel_scope.cancel()
        finally:
            if host is not None:
                await host.stop()

    try:
        anyio.run(converse)
    except KeyboardInterrupt:
        pass
    except CallwrightError as exc:
        _fail(str(exc))


def _describe(event: ev.Event) -> str:
    if isinstance(event, ev.TranscriptFinal) and event.source == "web":
        return f"you entered on the web form (not typed here): {event.text}"
    if isinstance(event, ev.ToolCalled):
        return f"tool {event.name}({', '.join(f'{k}={v!r}' for k, v in event.arguments.items())})"
    if isinstance(event, ev.ToolResult):
        return f"tool {event.name}: {event.status}{' (replayed)' if event.replayed else ''} in {event.ms:.0f} ms"
    if isinstance(event, ev.IntentRecognized):
        return f"intent {event.name} ({event.score:.2f})"
    if isinstance(event, ev.EmotionEstimated):
        return f"caller sounds {event.label} (valence {event.valence:+.2f})"
    if isinstance(event, ev.StyleChosen) and event.style != "neutral":
        return f"style {event.style}: {event.reason}"
    if isinstance(event, ev.FormField):
        return f"form {event.form}.{event.field}: {event.status}{f' = {event.value}' if event.value else ''}"
    if isinstance(event, ev.MessageSent):
        return f"SMS to {event.to}: {event.body}"
    if isinstance(event, ev.JobQueued):
        return f"background job {event.job_id[:8]} ({event.name})"
    if isinstance(event, ev.KnowledgeCited):
        top = event.passages[0] if event.passages else {}
        return f"knowledge {'found' if event.confident else 'not sure'}: {top.get('doc', '-')} > {top.get('section', '-')}"
    if isinstance(event, ev.Transfer):
        return f"transfer to {event.to} ({event.reason})"
    if isinstance(event, ev.CallerIdentified):
        return f"caller {event.phone or 'unknown'}{f' is {event.name}' if event.name else ''}"
    if isinstance(event, ev.MemoryUpdated):
        return f"memory {event.action}: {event.detail}"
    if isinstance(event, ev.ErrorEvent):
        return f"error {event.code}: {event.message}"
    return ""


# ---------------------------------------------------------------------------- check
@main.command()
@click.argument("folder", type=click.Path())
def check(folder: str) -> None:
    """Validate an agent folder (agent.yaml, tools, knowledge) and say what it contains."""
    from .agent.spec import load_definition

    try:
        d = load_definition(folder)
    except CallwrightError as exc:
        _fail(str(exc), 2)
        return
    spec = d.spec
    click.echo(f"{spec.name}: ok")
    click.echo(f"  intents: {', '.join(i.name for i in spec.intents) or '-'}")
    click.echo(f"  tools:   {', '.join(d.tools) or '-'}")
    click.echo(f"  forms:   {', '.join(spec.forms) or '-'}")
    click.echo(f"  knowledge: {spec.knowledge.folder if spec.knowledge else '-'}")
    flags = ", ".join(f"{f.name} ({f.level})" for f in spec.safety.red_flags) or "-"
    click.echo(f"  safety:  a person on request {'at once' if spec.safety.person_requests else 'off'}; red flags: {flags}")
    suites = sorted(p.stem for p in (d.folder / "conversations").glob("*.yaml"))
    click.echo(f"  conversation suites: {', '.join(suites) or '-'}")


# ---------------------------------------------------------------------------- test
@main.command("test")
@click.argument("folder", type=click.Path())
@click.option("--suite", "suite_names", multiple=True, help="Suite to run (a file name in conversations/, without .yaml); all by default. Repeatable.")
@click.option("--only", default=None, help="Only the conversations whose name contains this text.")
@click.option("--safety-only", is_flag=True, help="Only the safety conversations, with their safety checks.")
@click.option("--min-pass", default=0.9, show_default=True, type=click.FloatRange(0, 1), help="Share of the other conversations that must pass, per suite.")
@click.option("--llm-url", default=None, help="OpenAI-compatible base URL: test the agent with the LLM brain.")
@click.option("--llm-model", default="gpt-4o-mini", show_default=True, help="Model name for --llm-url.")
@click.option("--show", type=click.Choice(["failed", "all", "none"]), default="failed", show_default=True, help="Which conversations to print in full.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def test(
    folder: str, suite_names: tuple[str, ...], only: str | None, safety_only: bool, min_pass: float,
    llm_url: str | None, llm_model: str, show: str, as_json: bool,
) -> None:
    """Run an agent's conversation suites (conversations/*.yaml) in real text-mode calls.

    Exit 0 when every safety conversation passes and at least --min-pass of the others do, per suite.
    """
    from .testing.conversations import load_suite, run_folder, suite_files

    paths = suite_files(folder)
    if suite_names:
        wanted = set(suite_names)
        paths = [p for p in paths if p.stem in wanted]
        missing = wanted - {p.stem for p in paths}
        if missing:
            _fail(f"{folder}: no suite {sorted(missing)[0]!r} in {Path(folder) / 'conversations'}", 2)
    if not paths:
        _fail(f"{folder}: no conversation suites (add conversations/*.yaml; see docs/testing.md)", 2)
    try:
        for path in paths:
            load_suite(path)
    except CallwrightError as exc:
        _fail(str(exc), 2)

    async def go() -> dict[str, Any]:
        llm = None
        if llm_url:
            from .engines.llm.openai_compat import OpenAICompatibleLlm

            llm = OpenAICompatibleLlm(llm_url, llm_model, api_key=Settings.load().llm_api_key or None)
        try:
            return await run_folder(folder, suites=paths, llm=llm, only=only, safety_only=safety_only)
        finally:
            if llm is not None:
                await llm.aclose()

    try:
        results = anyio.run(go)
    except CallwrightError as exc:
        _fail(str(exc), 2 if isinstance(exc, ConfigError) else 1)
        return
    ok = True
    report: dict[str, Any] = {}
    for name, result in results.items():
        safe, safe_total = result.rate(True)
        other, other_total = result.rate(False)
        passed = safe == safe_total and other >= min_pass * other_total
        ok = ok and passed
        report[name] = {
            "safety": [safe, safe_total], "other": [other, other_total], "passed": passed,
            "failures": [str(f) for f in result.failures],
        }
        if as_json:
            continue
        for transcript in result.transcripts:
            if show == "all" or (show == "failed" and not transcript.passed):
                click.echo(transcript.render())
        click.echo(f"{name}: {result.summary()}  {'ok' if passed else 'FAILED'}")
    if as_json:
        click.echo(json.dumps(report, indent=1))
    sys.exit(0 if ok else 1)


# ---------------------------------------------------------------------------- simulate
@main.command()
@click.argument("suite", type=click.Path())
@click.option("--agent", "folder", default=None, type=click.Path(), help="The agent folder to call, run in-process (text mode, or --voice).")
@click.option("--target", default=None, help="A running agent to dial in real time: its Twilio voice webhook or Media Stream URL, or its native WebSocket URL.")
@click.option("--protocol", type=click.Choice(["twilio", "native"]), default="twilio", show_default=True, help="How to dial --target.")
@click.option("--token", default=None, envvar=f"{ENV_PREFIX}TOKEN", help="The --target server's token (native protocol), if it requires one.")
@click.option("--seed", default=None, type=int, help="Seed for every case (default: the suite's matrix seed).")
@click.option("--only", default=None, help="Only the cases whose name contains this text.")
@click.option("--report", "report_dir", default=None, type=click.Path(), help="Write results.json, junit.xml and index.html (a page per call in calls/, with each call's recording in the voice modes) here.")
@click.option("--show", type=click.Choice(["failed", "all", "none"]), default="failed", show_default=True, help="Which calls to print in full.")
@click.option("--voice", is_flag=True, help="With --agent: synthetic speech through each case's line into the agent's speech models, on virtual time.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(min=1, max=64), help="With --target: calls in progress at once (a load test; latencies then include the agent's load).")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1), help="Run every case this many times, each run with a seed of its own: pass^k and 95 % intervals.")
@click.option("--baseline", default=None, type=click.Path(), help="An earlier results.json: compare with it, and exit 1 only on a regression beyond noise.")
@click.option("--llm-url", default=None, help="OpenAI-compatible base URL of an LLM for the simulator: it plays the scenarios that have a goal, and judges with --llm-judge (key: CALLWRIGHT_LLM_API_KEY).")
@click.option("--llm-model", default="gpt-4o-mini", show_default=True, help="Model name for --llm-url.")
@click.option("--llm-judge", is_flag=True, help="With --llm-url: the LLM also judges each call (pass, fail or unsure), beside the rules.")
@click.option("--scripted", is_flag=True, help="With --llm-url: scenarios that have turns keep their scripted caller (the LLM plays only those with a goal and no turns).")
def simulate(
    suite: str, folder: str | None, target: str | None, protocol: Literal["twilio", "native"], token: str | None, seed: int | None,
    only: str | None, report_dir: str | None, show: str, voice: bool, concurrency: int, repeat: int, baseline: str | None, llm_url: str | None,
    llm_model: str, llm_judge: bool, scripted: bool,
) -> None:
    """Call an agent with a simulator suite's callers and judge every call: --agent FOLDER runs it
    in-process (text mode, or --voice on virtual time); --target URL dials a running agent in real time.

    Exit 0 when every run of every case passes, 1 when one fails (or the target cannot be dialled),
    2 when the suite, the agent or the baseline cannot be read. With --baseline: 1 only on a
    regression beyond noise against it (a safety case that passed before and fails now is always one).
    The LLM judge's verdicts are reported, not counted.
    """
    from .simulate import baseline as baselines
    from .simulate import report, tally
    from .simulate.callers import Caller, LlmCaller, ScriptedCaller
    from .simulate.chat import Chat
    from .simulate.progress import Progress
    from .simulate.runner import CaseResult, run_text_cases
    from .simulate.scenario import Case, cases, load_scenarios, repeated

    if (folder is None) == (target is None):
        raise click.UsageError("give --agent FOLDER (run in-process) or --target URL (a running agent), one of them")
    if target is not None and voice:
        raise click.UsageError("--voice is for --agent: a --target is always called by voice, in real time")
    if concurrency > 1 and target is None:
        raise click.UsageError("--concurrency is for --target: in-process cases run one at a time (voice) or eight at once (text)")
    if llm_judge and not llm_url:
        raise click.UsageError("--llm-judge needs an LLM: give --llm-url URL (an OpenAI-compatible endpoint)")
    if scripted and not llm_url:
        raise click.UsageError("--scripted is for --llm-url: without an LLM every caller is scripted")
    try:
        chosen = repeated([c for c in cases(load_scenarios(suite, llm=bool(llm_url)), seed=seed) if not only or only in c.name], repeat)
        earlier = baselines.load(baseline) if baseline is not None else None
        if folder is not None:
            from .agent.app import AgentApp
            from .agent.spec import load_definition

            app = AgentApp(load_definition(folder))
    except CallwrightError as exc:
        _fail(str(exc), 2)
        return
    recordings = Path(report_dir) / "calls" if report_dir else None

    def wav(number: int, case: Any) -> Path | None:
        return recordings / f"{tally.call_stem(number, case)}.wav" if recordings is not None else None

    progress = Progress(len(chosen), sys.stderr)
    made: dict[int, Caller] = {}  # each case's caller (by the case's id), for its notes

    def caller_of(chat: Chat | None) -> Callable[[Case], Caller]:
        def make(case: Case) -> Caller:
            goal_driven = case.scenario.goal and not (scripted and case.scenario.turns)
            made[id(case)] = LlmCaller(case.scenario, chat, case.seed) if chat is not None and goal_driven else ScriptedCaller(case.scenario)
            return made[id(case)]
        return make

    async def voiced(callers: Callable[[Case], Caller]) -> list[CaseResult]:
        from .server import build_engines, warm
        from .simulate.voicecall import run_voice

        engines = build_engines(Settings.load())
        warm(engines)
        done: list[CaseResult] = []
        for number, case in enumerate(chosen, start=1):  # one at a time: each inference costs what it costs alone
            done.append(await run_voice(case, app, engines, recording=wav(number, case), caller=callers(case)))
            progress.done(done[-1])
        return done

    async def dialled(callers: Callable[[Case], Caller]) -> list[CaseResult]:
        from .simulate.realtime import default_stt, run_realtime

        assert target is not None
        stt = await default_stt()
        done: list[CaseResult | None] = [None] * len(chosen)
        limiter = anyio.CapacityLimiter(concurrency)  # 1 by default: the agent's answers are timed as it gives them alone

        failed: list[CallwrightError] = []

        async def dial(number: int, case: Case) -> None:
            async with limiter:
                if failed:
                    return  # the target could not be dialled: no use trying the rest
                try:
                    done[number - 1] = result = await run_realtime(
                        case, target, protocol=protocol, stt=stt, recording=wav(number, case), token=token, caller=callers(case),
                    )
                except CallwrightError as exc:
                    failed.append(exc)
                    return
                progress.done(result)

        async with anyio.create_task_group() as calls:
            for number, case in enumerate(chosen, start=1):
                calls.start_soon(dial, number, case)
        if failed:
            raise failed[0]
        return [r for r in done if r is not None]

    async def simulated() -> list[CaseResult]:
        chat = None
        if llm_url:
            from .simulate.chat import Endpoint

            chat = Endpoint(llm_url, llm_model, api_key=Settings.load().llm_api_key or None)
        try:
            callers = caller_of(chat)
            if target is not None:
                done = await dialled(callers)
            else:
                done = await voiced(callers) if voice else await run_text_cases(chosen, app, callers=callers, on_done=progress.done)
            for result in done:
                result.note_caller(made[id(result.case)])
            if llm_judge and chat is not None:
                from .simulate.verdict import LlmJudge

                judge = LlmJudge(chat)
                for result in done:  # after the calls, one at a time: a local model serves one request at a time anyway
                    result.judgement = await judge.judge(result)
            return done
        finally:
            if chat is not None:
                await chat.aclose()

    try:
        results = anyio.run(simulated)
    except CallwrightError as exc:  # the target could not be dialled, or the simulator's LLM failed
        progress.close()
        _fail(str(exc), 1)
        return
    progress.close()
    for result in results:
        if show == "all" or (show == "failed" and not result.passed):
            click.echo(result.transcript.render())
    comparison = None
    if earlier is not None:
        comparison = baselines.compare(earlier, report.to_json(results), baseline=str(baseline))
    click.echo(report.summary(results, comparison))
    if llm_judge:
        from .simulate.verdict import judge_summary

        click.echo(judge_summary(results))
    if report_dir:
        for path in report.write(results, Path(report_dir), Path(suite).stem, comparison):
            click.echo(f"wrote {path}")
    if comparison is not None:
        sys.exit(1 if comparison.regressions else 0)
    sys.exit(0 if all(r.passed for r in results) else 1)


# ---------------------------------------------------------------------------- outbox
@main.command()
@click.option("--store-url", default=None, help="Store to read (default: the server's, from settings).")
@click.option("--to", default=None, help="Only messages to this number (E.164).")
@click.option("--limit", default=20, show_default=True)
def outbox(store_url: str | None, to: str | None, limit: int) -> None:
    """Show the SMS the agents sent (the embedded outbox, or what went to Twilio)."""
    from .store import open_store

    async def show() -> None:
        store = await open_store(store_url or Settings.load().resolved_store_url())
        try:
            for m in await store.messages(to, limit):
                click.echo(f"{m.created_at:%Y-%m-%d %H:%M:%S}  {m.to}  [{m.status}]  {m.body}")
        finally:
            await store.close()

    try:
        anyio.run(show)
    except CallwrightError as exc:
        _fail(str(exc))


# ---------------------------------------------------------------------------- call
END_GRACE_S = 0.5  # after the last reply: an agent that hangs up or transfers ends the call milliseconds after it


class CallFailed(CallwrightError):
    """``callwright call`` could not finish: no reply in time, the line dropped, or the server ended the call."""

    category = "call"


@main.command()
@click.option("--url", default="ws://127.0.0.1:8000/ws", show_default=True, help="Agent's native WebSocket URL.")
@click.option("--say", "texts", multiple=True, help="Text the caller says (spoken by espeak-ng); repeat for several turns, in order.")
@click.option("--wav", "wav_paths", multiple=True, type=click.Path(dir_okay=False), help="WAV file the caller says; repeat for several turns, in order.")
@click.option("--voice", default="en-us", show_default=True, help="espeak-ng voice for --say.")
@click.option("--pause", default=0.5, show_default=True, type=click.FloatRange(min=0), help="Seconds of silence after each agent reply before the next utterance.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Save all the agent's audio of the call (greeting and replies) as WAV.")
@click.option("--rate", default="16000", show_default=True, type=click.Choice(["8000", "16000", "24000", "48000"]), help="Sample rate to negotiate.")
@click.option("--caller", default=None, help="Caller phone number.")
@click.option("--token", default=None, envvar=f"{ENV_PREFIX}TOKEN", help="Server token, if it requires one.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Seconds to wait for each thing the agent should do (greet, hear, reply).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def call(
    url: str,
    texts: tuple[str, ...],
    wav_paths: tuple[str, ...],
    voice: str,
    pause: float,
    out_path: str | None,
    rate: str,
    caller: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Phone a running agent: say one or more turns (spoken text or WAV files), print what each side heard and the latencies."""
    if texts and wav_paths:
        _fail("--say and --wav cannot be mixed in one call: give exactly one of --wav FILE or --say TEXT, repeated for several turns", 2)
    if not texts and not wav_paths:
        _fail("nothing to say: give exactly one of --wav FILE or --say TEXT, repeated for several turns", 2)
    import websockets

    from .audio import write_wav
    from .client import CallClient, CallClosed

    sample_rate = int(rate)
    utterances = _utterances(texts, wav_paths, voice, sample_rate)

    async def dial() -> dict[str, Any]:
        client = CallClient(url, sample_rate=sample_rate, caller=caller, token=token)
        try:
            async with client:
                report = await _converse(client, utterances, timeout=timeout, pause=pause, echo=not as_json)
        except CallClosed as exc:
            raise CallFailed(_dropped(client, url, exc)) from None
        except websockets.InvalidHandshake as exc:  # e.g. HTTP 403: a wrong or missing token
            raise CallFailed(f"{url} refused the call: {exc}. Check --url and --token.") from None
        except websockets.InvalidURI as exc:
            raise ConfigError(f"--url: {exc}; it looks like ws://127.0.0.1:8000/ws") from None
        report["audio"] = client.received.agent_audio()
        return report

    try:
        result = anyio.run(dial)
    except ConfigError as exc:
        _fail(str(exc), 2)
        return
    except CallFailed as exc:
        _fail(str(exc))
        return
    except TimeoutError:  # before OSError: TimeoutError is one. Only the wait for call.started gets here
        _fail(f"{url} took the connection but did not start the call (no call.started)")
        return
    except OSError as exc:
        _fail(f"cannot reach {url}: {exc}. Is 'callwright run' running?")
        return
    except KeyboardInterrupt:
        _fail("call interrupted")
        return
    audio = result.pop("audio")
    if out_path:
        write_wav(out_path, audio, sample_rate)
        result["saved"] = out_path
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    _echo_ending(result)
    if out_path:
        click.echo(f"agent audio saved to {out_path}")


def _utterances(texts: tuple[str, ...], wav_paths: tuple[str, ...], voice: str, sample_rate: int) -> list[tuple[str, Any]]:
    """(what the caller says, its audio at ``sample_rate``) for each --say or --wav, in order; usage errors exit 2."""
    from .audio import read_wav, resample
    from .audio.pcm import speech_end

    utterances = []
    for said in wav_paths or texts:
        flag = "--wav" if wav_paths else "--say"
        try:
            if wav_paths:
                if not Path(said).exists():
                    _fail(f"--wav: no such file: {said}", 2)
                pcm, rate = read_wav(said)
            else:
                from .engines.tts.espeak import speak  # GPL engine: imported only for --say

                pcm, rate = speak(said, voice=voice)
        except CallwrightError as exc:
            _fail(f"{flag} {said!r}: {exc}", 2)
        pcm = resample(pcm, rate, sample_rate)
        if speech_end(pcm, sample_rate) == 0:
            _fail(f"{flag} {said!r}: no speech in it (nothing louder than -40 dBFS)", 2)
        utterances.append((said, pcm))
    return utterances


async def _converse(client: CallClient, utterances: list[tuple[str, Any]], *, timeout: float, pause: float, echo: bool) -> dict[str, Any]:
    """Hear the greeting, then say each utterance and wait for the agent's reply to it, until the
    list is done (the caller hangs up) or the agent ends the call (hang-up or transfer)."""
    report: dict[str, Any] = {"greeting": None, "exchanges": [], "ended": None, "not_played": []}
    if client.started is not None and client.started.greeting:
        greeting = await _wait(client, lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout, "the agent did not greet")
        if isinstance(greeting, ev.AgentTurn):
            report["greeting"] = greeting.text
            if echo:
                click.echo(f"agent (greeting): {greeting.text}")
    for i, (said, pcm) in enumerate(utterances):
        if i or report["greeting"] is not None:
            await _listen(client, pause, timeout)
        if _ended(client) is not None:
            report["not_played"] = [s for s, _ in utterances[i:]]
            break
        exchange = await _exchange(client, said, pcm, timeout)
        report["exchanges"].append(exchange)
        if echo:
            _echo_exchange(exchange, first=not i)
    else:
        await _listen(client, max(pause, END_GRACE_S), timeout)
    ended = _ended(client)
    if ended is None:
        await client.hangup()
    report["ended"] = _ending(client, ended)
    return report


async def _exchange(client: CallClient, said: str, pcm: Any, timeout: float) -> dict[str, Any]:
    """Say ``pcm`` and wait for what the agent heard and its reply to that turn (or for the call to end)."""
    import websockets

    from .audio.pcm import speech_end

    before = max((e.turn for e in client.received.of(ev.TranscriptFinal)), default=0)
    exchange: dict[str, Any] = dict(
        caller_said=said, turn=None, agent_heard=None, confidence=None, agent_said=None, latency_ms={}
    )
    spoke_end = time.perf_counter() + speech_end(pcm, client.rate)
    try:
        await client.speak(pcm)
    except websockets.ConnectionClosed:
        await client.wait_closed()  # the call ended while the caller spoke: the waits below find out how
    heard = await _wait(client, lambda e: isinstance(e, ev.TranscriptFinal) and e.turn > before, timeout, f"the agent heard nothing of {said!r}")
    if not isinstance(heard, ev.TranscriptFinal):
        return exchange
    exchange.update(turn=heard.turn, agent_heard=heard.text, confidence=heard.confidence)
    reply = await _wait(client, lambda e: isinstance(e, ev.AgentTurn) and e.turn == heard.turn, timeout, f"the agent did not answer {said!r}")
    if isinstance(reply, ev.AgentTurn):
        exchange["agent_said"] = reply.text
    latencies = {e.stage: e.ms for e in client.received.of(ev.Latency) if e.turn == heard.turn}
    first = client.received.first_audio_after(spoke_end)
    if first is not None:
        latencies["heard_by_caller"] = round((first - spoke_end) * 1000, 1)
    exchange["latency_ms"] = latencies
    return exchange


async def _wait(client: CallClient, predicate: Any, timeout: float, what: str) -> Any:
    """The first event matching ``predicate``, or ``call.ended`` if the call ends first; the line stays open meanwhile."""
    try:
        return await client.listen_until(lambda e: isinstance(e, ev.CallEnded) or predicate(e), timeout=timeout)
    except TimeoutError:
        raise CallFailed(f"{what} within {timeout:g} s (--timeout sets how long to wait)") from None


async def _listen(client: CallClient, seconds: float, timeout: float) -> None:
    """Keep the line open for ``seconds`` or until the call ends; once the agent has transferred the
    call, until it ends (the server ends it when the agent's last words have played)."""
    transferring = any(isinstance(e, ev.Transfer) and e.mode == "transfer" for e in client.received.events)
    if transferring:
        await _wait(client, lambda e: False, timeout, "the call did not end after the agent transferred it")
        return
    with anyio.move_on_after(seconds):
        await client.listen_until(lambda e: isinstance(e, ev.CallEnded), timeout=seconds + timeout)


def _ended(client: CallClient) -> ev.CallEnded | None:
    return next((e for e in client.received.events if isinstance(e, ev.CallEnded)), None)


def _ending(client: CallClient, ended: ev.CallEnded | None) -> dict[str, Any]:
    """How the call ended, for the report; an end that is not a hang-up or a transfer is a failure."""
    if ended is None:
        return {"reason": "hangup", "transfer_to": None, "transfer_reason": None}  # the caller hung up
    if ended.reason in ("hangup", "agent_hangup"):
        return {"reason": ended.reason, "transfer_to": None, "transfer_reason": None}
    if ended.reason == "transfer":
        transfer = next((e for e in reversed(client.received.events) if isinstance(e, ev.Transfer) and e.mode == "transfer"), None)
        return {"reason": "transfer", "transfer_to": transfer and transfer.to, "transfer_reason": transfer and transfer.reason}
    errors = client.received.of(ev.ErrorEvent)
    why = f" ({errors[-1].code}: {errors[-1].message})" if ended.reason == "error" and errors else ""
    raise CallFailed(f"the server ended the call early, reason {ended.reason}{why}")


def _dropped(client: CallClient, url: str, exc: CallClosed) -> str:
    """One line for a connection the server closed without ending the call (or refused)."""
    fatal = [e for e in client.received.of(ev.ErrorEvent) if e.fatal]
    if fatal:
        why = f": {fatal[-1].message}"
    elif exc.code == 1006:
        why = " (no close frame: did the server stop?)"
    else:
        why = f" ({exc.reason})" if exc.reason else ""
    return f"{url}: the server closed the connection unexpectedly, close code {exc.code}{why}"


def _echo_exchange(exchange: dict[str, Any], *, first: bool) -> None:
    if not first:
        click.echo()
    confidence = f"  (confidence {exchange['confidence']})" if exchange["confidence"] is not None else ""
    click.echo(f"caller said:      {exchange['caller_said']}")
    click.echo(f"agent heard:      {exchange['agent_heard'] or '(nothing: the call ended first)'}{confidence}")
    click.echo(f"agent said:       {exchange['agent_said'] if exchange['agent_said'] is not None else '(no reply: the call ended first)'}")
    for stage, ms in exchange["latency_ms"].items():
        click.echo(f"  {stage:<18} {ms:8.1f} ms")


def _echo_ending(report: dict[str, Any]) -> None:
    ended = report["ended"]
    click.echo()
    if ended["reason"] == "agent_hangup":
        click.echo("the agent hung up")
    elif ended["reason"] == "transfer":
        click.echo(f"the agent transferred the call to {ended['transfer_to']} (reason: {ended['transfer_reason']})")
    else:
        click.echo("the caller hung up")
    if report["not_played"]:
        click.echo(f"not said (the call had ended): {', '.join(map(repr, report['not_played']))}")


# ---------------------------------------------------------------------------- schema
@main.command()
def schema() -> None:
    """Print the JSON Schema of the protocol's events."""
    click.echo(json.dumps(ev.json_schema(), indent=1))


if __name__ == "__main__":
    main()
