// The Callwright browser client: microphone in, agent audio out, over the native protocol (/ws).
// docs/protocol.md describes the protocol; worklet.js holds the capture and playback processors.

const RATE = 16000; // the call's sample rate, both ways
const MAX_BUFFERED_BYTES = RATE * 2; // 1 s of unsent mic audio: beyond this, frames are dropped

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"), hangup: $("hangup"), status: $("status"), error: $("error"),
  transcript: $("transcript"), form: $("say"), text: $("text"), send: $("send"), caller: $("caller"),
};

// Counters the end-to-end test reads (and a curious developer can, from the console).
const stats = {
  state: "idle", endReason: null, samplesSent: 0, framesDropped: 0, samplesReceived: 0,
  samplesPlayed: 0, marksReceived: 0, marksEchoed: 0, clears: 0, errors: [],
};
window.callwright = stats;

const ENDED = {
  hangup: "you hung up", agent_hangup: "the agent hung up", client_gone: "the connection was lost",
  idle_timeout: "nobody spoke for a while", max_duration: "the call reached its time limit",
  error: "an error ended it", shutdown: "the server shut down",
};
// Latency stages, each in ms after the caller's last voiced sample. voice_to_voice, shown first, is
// when this page confirmed (by echoing a mark) that the reply's first audio had played.
const STAGES = {
  endpoint: "endpoint", stt_final: "transcript", first_text: "reply text", first_audio_synth: "first audio",
  first_audio_sent: "sent",
};

let session = null; // the current call (see startCall)

// ------------------------------------------------------------------ status and errors
function setStatus(state, text) {
  stats.state = state;
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

function showError(message) {
  stats.errors.push(message);
  ui.error.textContent = message;
}

function setControls({ live }) {
  ui.start.disabled = live;
  ui.hangup.disabled = !live;
  ui.text.disabled = !live;
  ui.send.disabled = !live;
}

// ------------------------------------------------------------------ transcript
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function line(kind, label) {
  const node = el("div", `line ${kind}`);
  node.hidden = true;
  node.who = el("span", "who", label);
  node.body = el("span", "text");
  node.append(node.who, node.body);
  return node;
}

// One <li> per turn index: the caller's words, the agent's reply to them, and that turn's latency.
function turn(index) {
  let t = session.turns.get(index);
  if (!t) {
    const li = el("li", "turn");
    t = { li, caller: line("caller", "You"), agent: line("agent", "Agent"), latency: el("div", "latency"), stages: {} };
    t.latency.hidden = true;
    li.append(t.caller, t.agent, t.latency);
    ui.transcript.append(li);
    session.turns.set(index, t);
  }
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
  return t;
}

// Where a caller turn came from (transcript.final's source): only speech is what they said aloud.
const SOURCES = { speech: "You", text: "You (typed)", dtmf: "You (keypad)", web: "You (web form)" };

function callerSaid(index, text, { partial = false, source = "speech" } = {}) {
  const t = turn(index);
  const { caller } = t;
  t.typed = source !== "speech";
  caller.hidden = false;
  caller.classList.toggle("partial", partial);
  caller.dataset.source = source;
  caller.who.textContent = SOURCES[source] ?? `You (${source})`;
  caller.body.textContent = text;
}

function dropPartials() {
  // A hypothesis that never became a turn (a cough, or an interruption that was not one).
  for (const [index, t] of session.turns) {
    if (!t.caller.classList.contains("partial")) continue;
    t.caller.hidden = true;
    t.caller.classList.remove("partial");
    if (t.agent.hidden && t.latency.hidden) {
      t.li.remove();
      session.turns.delete(index);
    }
  }
}

function agentSaid(index, sentence) {
  const { agent } = turn(index);
  agent.hidden = false;
  agent.body.textContent = agent.body.textContent ? `${agent.body.textContent} ${sentence}` : sentence;
}

// A cut turn shows what the caller heard, then the rest struck through.
function agentTurn(e) {
  if (!e.interrupted) return;
  const { agent } = turn(e.turn);
  agent.hidden = false;
  agent.who.append(el("span", "tag", "(interrupted)"));
  const planned = (agent.body.textContent || e.planned_text).split(/\s+/).filter(Boolean);
  const heard = e.text.split(/\s+/).filter(Boolean);
  if (heard.length && heard.some((word, i) => word !== planned[i])) {
    agent.append(el("span", "heard", `Heard: “${e.text}”`)); // not a prefix: show both as they are
    return;
  }
  const rest = planned.slice(heard.length).join(" ");
  const unheard = el("s", "unheard");
  unheard.append(el("span", "sr-only", "Not heard: "), rest);
  agent.body.replaceChildren(heard.join(" "), heard.length && rest ? " " : "", ...(rest ? [unheard] : []));
}

// What happened behind a reply (tools, forms, emotion, SMS), one short line each, under the turn.
function note(index, text) {
  const t = turn(index ?? Math.max(0, ...session.turns.keys()));
  t.li.insertBefore(el("div", "note", text), t.latency);
}

function latency(e) {
  const t = turn(e.turn);
  t.stages[e.stage] = e.ms;
  const ms = (stage) => `${Math.round(t.stages[stage])} ms`;
  const parts = Object.keys(STAGES).filter((s) => s in t.stages).map((s) => `${STAGES[s]} ${ms(s)}`);
  const label = t.typed ? "Reply in" : "Voice-to-voice"; // a typed turn has no voice to start from
  const total = "voice_to_voice" in t.stages ? [el("strong", "", `${label} ${ms("voice_to_voice")}`), " · "] : [];
  t.latency.replaceChildren(...total, parts.join(" · "));
  t.latency.hidden = false;
}

// ------------------------------------------------------------------ protocol
function send(s, event) {
  if (s.ws?.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify(event));
}

// What the operator reads when the reply style changes (the style event names it; neutral says nothing).
const STYLE_NOTES = {
  calm: "Caller sounds angry or upset: replying in a calm style",
  warm: "Caller sounds worried: replying in a warm style",
  upbeat: "Caller sounds happy: replying in an upbeat style",
};

const handlers = {
  "call.started": (s) => {
    s.live = true;
    setControls({ live: true });
    setStatus("listening", "Listening");
  },
  "vad.speech_started": () => dropPartials(),
  "transcript.partial": (s, e) => callerSaid(e.turn, e.text, { partial: true }),
  "transcript.final": (s, e) => callerSaid(e.turn, e.text, { source: e.source }),
  "agent.text": (s, e) => agentSaid(e.turn, e.text),
  "agent.turn": (s, e) => agentTurn(e),
  "audio.clear": (s) => {
    stats.clears += 1;
    s.marks.clear();
    s.player.port.postMessage({ type: "clear" });
  },
  "audio.mark": (s, e) => {
    stats.marksReceived += 1;
    s.marks.set(e.name, e); // echoed unchanged once the audio before it has played
    s.player.port.postMessage({ type: "mark", name: e.name });
  },
  latency: (s, e) => latency(e),
  "caller.identified": (s, e) => e.name && note(0, `Recognised ${e.name} by phone number`),
  "tool.progress": (s, e) => e.kind === "progress" || note(e.turn, `Working: ${e.name}`),
  "tool.result": (s, e) => note(e.turn, `Tool ${e.name}: ${e.status}${e.replayed ? " (already done)" : ""}${e.ms ? ` in ${Math.round(e.ms)} ms` : ""}`),
  style: (s, e) => STYLE_NOTES[e.style] && note(e.turn, STYLE_NOTES[e.style]),
  "form.field": (s, e) => ["filled", "confirmed", "link_sent", "link_filled"].includes(e.status) && note(null, `Form ${e.field}: ${e.status.replace("_", " ")}${e.value ? ` (${e.value})` : ""}`),
  "message.sent": (s, e) => note(null, `SMS to ${e.to}: ${e.body}`),
  "job.queued": (s, e) => note(null, `Background job started: ${e.name}; the result follows by SMS`),
  "knowledge.cited": (s, e) => e.confident && e.passages.length && note(e.turn, `From ${e.passages[0].doc}: ${e.passages[0].section}`),
  transfer: (s, e) => note(null, e.mode === "booking" ? `Booked a call with a person (${e.reason})` : `Transferring to ${e.to} (${e.reason})`),
  safety: (s, e) => note(e.turn, e.level === "person" ? "Asked for a person: handing over at once" : `Safety: ${e.rule.replaceAll("_", " ")} (${e.level}); advice first, then a person`),
  misheard: (s, e) => note(e.turn, `Not sure it heard "${e.text}" (confidence ${e.confidence ?? "?"}): asked again${e.offered ? `, offered ${e.offered}` : ""}`),
  error: (s, e) => {
    s.failed ||= e.fatal; // the server says why; the close that follows needs no second message
    showError(`${e.fatal ? "Call error" : "Problem"} (${e.code}${e.stage ? `, ${e.stage}` : ""}): ${e.message}`);
  },
  "call.ended": (s, e) => finish(s, e.reason, true),
};

function onMessage(s, { data }) {
  if (data instanceof ArrayBuffer) {
    const pcm = new Int16Array(data);
    stats.samplesReceived += pcm.length;
    s.player.port.postMessage(pcm, [pcm.buffer]);
    return;
  }
  let event;
  try {
    event = JSON.parse(data);
  } catch {
    showError("The server sent a message that is not JSON; see the browser console.");
    console.error("callwright: unreadable message", data);
    return;
  }
  handlers[event.type]?.(s, event);
}

function onPlayer(s, { data }) {
  if (data.type === "mark") {
    const mark = s.marks.get(data.name);
    s.marks.delete(data.name);
    if (mark && s.ws.readyState === WebSocket.OPEN) {
      s.ws.send(JSON.stringify(mark));
      stats.marksEchoed += 1;
    }
  } else if (data.type === "progress") {
    stats.samplesPlayed = data.played;
    s.speaking = data.queued > 0;
    if (s.live) setStatus(s.speaking ? "speaking" : "listening", s.speaking ? "Agent speaking" : "Listening");
    if (s.ended && !s.speaking) closeAudio(s);
  }
}

function onMic(s, { data: frame }) {
  if (!s.live || s.ws.readyState !== WebSocket.OPEN) return;
  if (s.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
    stats.framesDropped += 1; // the network is behind, and live audio cannot wait
    return;
  }
  s.ws.send(frame.buffer);
  stats.samplesSent += frame.length;
}

function socketUrl() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const token = new URLSearchParams(location.search).get("token");
  url.search = token ? `?token=${encodeURIComponent(token)}` : "";
  url.hash = "";
  return url.href;
}

// ------------------------------------------------------------------ call lifecycle
function micError(err) {
  switch (err.name) {
    case "NotAllowedError": return "Microphone access was refused. Allow the microphone for this page, then start the call again.";
    case "NotFoundError": return "No microphone was found. Connect one, then start the call again.";
    case "NotReadableError": return "The microphone is in use by another application.";
    default: return `Could not start the microphone: ${err.message || err.name}`;
  }
}

async function openAudio(s) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("This page cannot use the microphone: open it over HTTPS or on localhost.");
  }
  s.ctx = new AudioContext({ latencyHint: "interactive" });
  await s.ctx.audioWorklet.addModule(new URL("worklet.js", import.meta.url));
  try {
    s.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (err) {
    throw new Error(micError(err));
  }
  s.capture = new AudioWorkletNode(s.ctx, "callwright-capture", { processorOptions: { rate: RATE } });
  s.capture.port.onmessage = (m) => onMic(s, m);
  s.ctx.createMediaStreamSource(s.mic).connect(s.capture);
  s.capture.connect(s.ctx.destination); // silent; connected so that every browser runs it
  s.player = new AudioWorkletNode(s.ctx, "callwright-player", {
    numberOfInputs: 0, outputChannelCount: [1], processorOptions: { rate: RATE },
  });
  s.player.port.onmessage = (m) => onPlayer(s, m);
  s.capture.onprocessorerror = s.player.onprocessorerror = () => showError("The audio processor failed; reload the page to try again.");
  s.player.connect(s.ctx.destination);
  await s.ctx.resume();
}

async function startCall() {
  ui.error.textContent = "";
  ui.transcript.replaceChildren();
  ui.start.disabled = true;
  setStatus("connecting", "Connecting…");
  Object.assign(stats, {
    endReason: null, samplesSent: 0, framesDropped: 0, samplesReceived: 0, samplesPlayed: 0,
    marksReceived: 0, marksEchoed: 0, clears: 0, errors: [],
  });
  const s = {
    ctx: null, ws: null, mic: null, capture: null, player: null, marks: new Map(), turns: new Map(),
    live: false, ended: false, failed: false, speaking: false,
  };
  session = s;
  try {
    await openAudio(s);
  } catch (err) {
    showError(err.message);
    finish(s, null);
    return;
  }
  const ws = new WebSocket(socketUrl());
  s.ws = ws;
  ws.binaryType = "arraybuffer";
  const caller = ui.caller?.value.trim() || null;
  ws.onopen = () => send(s, { type: "call.start", sample_rate: RATE, ...(caller ? { caller } : {}) });
  ws.onmessage = (m) => onMessage(s, m);
  ws.onclose = (e) => {
    if (s.ended) return;
    if (!s.failed) {
      showError(
        s.live
          ? `The connection to the server closed (code ${e.code}${e.reason ? `: ${e.reason}` : ""}).`
          : "Could not connect to the server. Check that it is running; if it needs a token, open this page with ?token=… added to its address.",
      );
    }
    finish(s, s.live ? "client_gone" : null);
  };
}

function hangUp() {
  const s = session;
  ui.hangup.disabled = true;
  if (s?.ws?.readyState === WebSocket.OPEN) {
    s.marks.clear();
    s.player.port.postMessage({ type: "clear" }); // the caller wants silence now
    send(s, { type: "hangup" }); // the server answers with call.ended
  } else if (s) {
    finish(s, "hangup");
  }
}

function closeAudio(s) {
  if (s.ctx && s.ctx.state !== "closed") s.ctx.close();
}

function finish(s, reason, fromServer = false) {
  if (s.ended) return;
  s.ended = true;
  s.live = false;
  stats.endReason = reason;
  setControls({ live: false });
  if (reason) setStatus("ended", `Call ended: ${ENDED[reason] ?? reason}`);
  else setStatus("idle", "Ready"); // the call never started; the error says why
  s.mic?.getTracks().forEach((track) => track.stop());
  s.capture?.disconnect();
  // After call.ended the server closes the socket itself; otherwise (a local failure) close it here.
  if (!fromServer && s.ws && s.ws.readyState <= WebSocket.OPEN) s.ws.close(1000, "call ended");
  // Agent audio already received (a goodbye) plays out; the player's last report closes the context.
  if (!s.speaking) closeAudio(s);
}

ui.start.addEventListener("click", () => {
  startCall().catch((err) => {
    showError(`Could not start the call: ${err.message}`);
    if (session) finish(session, null);
  });
});
ui.hangup.addEventListener("click", hangUp);
ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.text.value.trim();
  if (!text || !session?.live) return;
  send(session, { type: "caller.text", text });
  ui.text.value = "";
});
window.addEventListener("pagehide", () => session?.live && send(session, { type: "hangup" }));
