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
from typing import Any

import anyio
import click

from . import events as ev
from .errors import CallwrightError, ConfigError
from .settings import ENV_PREFIX, Settings


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
    from .transport.links import signer_from

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
            async with TextCall(bot, caller=caller) as c:
                c.call.sinks.append(show)
                await c.greeting()
                while c.call.end_reason is None:
                    try:
                        line = await anyio.to_thread.run_sync(input, "you> ")
                    except EOFError:
                        return
                    if line.strip():
                        await c.say(line.strip(), timeout=120)
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
@main.command()
@click.option("--url", default="ws://127.0.0.1:8000/ws", show_default=True, help="Agent's native WebSocket URL.")
@click.option("--wav", "wav_path", type=click.Path(dir_okay=False), help="WAV file the caller says.")
@click.option("--say", "text", help="Text the caller says (spoken by espeak-ng).")
@click.option("--voice", default="en-us", show_default=True, help="espeak-ng voice for --say.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Save the agent's reply audio as WAV.")
@click.option("--rate", default=16000, show_default=True, type=click.Choice(["8000", "16000", "24000", "48000"]), help="Sample rate to negotiate.")
@click.option("--caller", default=None, help="Caller phone number.")
@click.option("--token", default=None, envvar=f"{ENV_PREFIX}TOKEN", help="Server token, if it requires one.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the agent's reply.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def call(
    url: str,
    wav_path: str | None,
    text: str | None,
    voice: str,
    out_path: str | None,
    rate: str,
    caller: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Phone a running agent: send a WAV file or spoken text, print what each side heard and the latencies."""
    if bool(wav_path) == bool(text):
        _fail("give exactly one of --wav FILE or --say TEXT", 2)
    from .audio import read_wav, resample, write_wav
    from .audio.pcm import speech_end
    from .client import CallClient

    sample_rate = int(rate)
    try:
        if wav_path:
            if not Path(wav_path).exists():
                _fail(f"--wav: no such file: {wav_path}", 2)
            pcm, wav_rate = read_wav(wav_path)
        else:
            from .engines.tts.espeak import speak  # GPL engine: imported only for --say

            pcm, wav_rate = speak(text or "", voice=voice)
        pcm = resample(pcm, wav_rate, sample_rate)
    except CallwrightError as exc:
        _fail(str(exc), 2)
        return

    async def dial() -> dict[str, Any]:
        async with CallClient(url, sample_rate=sample_rate, caller=caller, token=token) as client:
            greeting_turn = None
            if _has_greeting(client):
                greeting_turn = await client.listen_until(lambda e: isinstance(e, ev.AgentTurn) and e.turn == 0, timeout=timeout)
            t0 = time.perf_counter()
            end_s = speech_end(pcm, sample_rate)
            await client.speak(pcm)
            spoke_end = t0 + end_s
            final = await client.listen_until(lambda e: isinstance(e, ev.TranscriptFinal), timeout=timeout)
            reply = await client.listen_until(lambda e: isinstance(e, ev.AgentTurn) and e.turn == final.turn, timeout=timeout)
            first = client.received.first_audio_after(spoke_end)
            latencies = {e.stage: e.ms for e in client.received.of(ev.Latency) if e.turn == final.turn}
            if first is not None:
                latencies["heard_by_caller"] = round((first - spoke_end) * 1000, 1)
            audio = client.received.agent_audio(after=spoke_end)
            await client.hangup()
            return {
                "greeting": greeting_turn.text if greeting_turn else None,
                "caller_said": text or wav_path,
                "agent_heard": final.text,
                "confidence": final.confidence,
                "agent_said": reply.text,
                "latency_ms": latencies,
                "audio": audio,
            }

    try:
        result = anyio.run(dial)
    except TimeoutError:  # before OSError: TimeoutError is one
        _fail(f"no reply within {timeout:.0f} s from {url}")
        return
    except (OSError, ConnectionError) as exc:
        _fail(f"cannot reach {url}: {exc}. Is 'callwright run' running?")
        return
    audio = result.pop("audio")
    if out_path:
        write_wav(out_path, audio, sample_rate)
        result["saved"] = out_path
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    if result["greeting"]:
        click.echo(f"agent (greeting): {result['greeting']}")
    click.echo(f"caller said:      {result['caller_said']}")
    click.echo(f"agent heard:      {result['agent_heard']}  (confidence {result['confidence']})")
    click.echo(f"agent said:       {result['agent_said']}")
    for stage, ms in result["latency_ms"].items():
        click.echo(f"  {stage:<18} {ms:8.1f} ms")
    if out_path:
        click.echo(f"agent reply saved to {out_path}")


def _has_greeting(client: Any) -> bool:
    return bool(client.started and client.started.greeting)


# ---------------------------------------------------------------------------- schema
@main.command()
def schema() -> None:
    """Print the JSON Schema of the protocol's events."""
    click.echo(json.dumps(ev.json_schema(), indent=1))


if __name__ == "__main__":
    main()
