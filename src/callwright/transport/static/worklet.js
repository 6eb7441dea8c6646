// Audio worklets for the Callwright page: microphone capture and agent playback.
//
// "callwright-capture": microphone (context rate) -> 16 kHz -> 20 ms Int16 frames, posted to the page.
// "callwright-player":  agent PCM16 at the call rate -> a queue -> the speakers. The page posts
//   Int16Array chunks, {type: "mark", name} and {type: "clear"}; the player posts back
//   {type: "mark", name} once the audio queued before that mark has been rendered, and
//   {type: "progress", played, queued} every 50 ms while playing and whenever it starts or stops.

// Streaming band-limited resampler (windowed sinc). Works for any pair of rates; the cutoff sits
// just below the lower Nyquist frequency, so downsampling does not alias and upsampling does not image.
class Resampler {
  constructor(inRate, outRate, zeroCrossings = 8) {
    this.step = inRate / outRate; // input samples per output sample
    this.cutoff = 0.46 * Math.min(1, outRate / inRate); // cycles per input sample
    this.half = Math.ceil(zeroCrossings / (2 * this.cutoff)); // kernel half-width, input samples
    this.reset();
  }

  reset() {
    this.buf = new Float32Array(2 * this.half); // history: zeros before the first sample
    this.pos = this.half; // input position (in buf) of the next output sample
  }

  process(input) {
    const joined = new Float32Array(this.buf.length + input.length);
    joined.set(this.buf);
    joined.set(input, this.buf.length);
    const out = [];
    const { half, cutoff } = this;
    while (this.pos + half < joined.length) {
      const centre = Math.floor(this.pos);
      let acc = 0;
      for (let n = centre - half + 1; n <= centre + half; n++) {
        const d = this.pos - n;
        const x = 2 * cutoff * d;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const window = 0.5 + 0.5 * Math.cos((Math.PI * d) / (half + 1)); // Hann
        acc += joined[n] * 2 * cutoff * sinc * window;
      }
      out.push(acc);
      this.pos += this.step;
    }
    const keep = Math.floor(this.pos) - half; // the oldest sample the next output still needs
    this.buf = joined.slice(keep);
    this.pos -= keep;
    return Float32Array.from(out);
  }
}

const passThrough = { process: (x) => x, reset() {} };

class Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const rate = options.processorOptions.rate; // the call's rate, 16000
    this.resampler = sampleRate === rate ? passThrough : new Resampler(sampleRate, rate);
    this.size = rate / 50; // 20 ms
    this.frame = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    let mono = channels[0];
    if (channels.length > 1) {
      mono = new Float32Array(mono.length);
      for (const ch of channels) for (let i = 0; i < ch.length; i++) mono[i] += ch[i] / channels.length;
    }
    for (const s of this.resampler.process(mono)) {
      this.frame[this.filled++] = Math.max(-32768, Math.min(32767, Math.round(s * 32768)));
      if (this.filled === this.size) {
        this.port.postMessage(this.frame, [this.frame.buffer]);
        this.frame = new Int16Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

class Player extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const rate = options.processorOptions.rate;
    this.ratio = sampleRate / rate; // output samples per call-rate sample
    this.resampler = sampleRate === rate ? passThrough : new Resampler(rate, sampleRate);
    this.chunks = []; // Float32Array at the context rate, oldest first
    this.offset = 0; // samples of chunks[0] already played
    this.queued = 0; // output samples waiting
    this.received = 0; // call-rate samples received (or skipped by a clear) since the start
    this.played = 0; // output samples rendered since the start
    this.marks = []; // {name, at}: `at` in output samples since the start
    this.sinceReport = 0;
    this.wasPlaying = false;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg instanceof Int16Array) {
      const floats = new Float32Array(msg.length);
      for (let i = 0; i < msg.length; i++) floats[i] = msg[i] / 32768;
      const out = this.resampler.process(floats);
      this.received += msg.length;
      if (out.length) {
        this.chunks.push(out);
        this.queued += out.length;
      }
    } else if (msg.type === "mark") {
      this.marks.push({ name: msg.name, at: Math.round(this.received * this.ratio) });
    } else if (msg.type === "clear") {
      // Barge-in: drop every buffered sample at once. Marks behind it will never play, so they are
      // dropped too; the server has already stopped counting on them.
      this.chunks = [];
      this.offset = 0;
      this.queued = 0;
      this.marks = [];
      this.resampler.reset();
      this.received = this.played / this.ratio; // new audio starts playing now
      this.report();
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    let i = 0;
    while (i < out.length && this.chunks.length) {
      const chunk = this.chunks[0];
      const n = Math.min(out.length - i, chunk.length - this.offset);
      out.set(chunk.subarray(this.offset, this.offset + n), i);
      i += n;
      this.offset += n;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    out.fill(0, i); // underrun or idle: silence
    this.played += i;
    this.queued -= i;
    // A mark is reached when playback passes it, or when the queue runs dry (the resampler may hold
    // back a fraction of a millisecond that would otherwise wait for the next turn).
    while (this.marks.length && (this.played >= this.marks[0].at || this.queued <= 0)) {
      this.port.postMessage({ type: "mark", name: this.marks.shift().name });
    }
    this.sinceReport += out.length;
    const playing = i > 0;
    if (playing !== this.wasPlaying || (playing && this.sinceReport >= sampleRate / 20)) this.report();
    this.wasPlaying = playing;
    return true;
  }

  report() {
    this.sinceReport = 0;
    this.port.postMessage({
      type: "progress",
      played: Math.round(this.played / this.ratio), // call-rate samples
      queued: Math.round(this.queued / this.ratio),
    });
  }
}

registerProcessor("callwright-capture", Capture);
registerProcessor("callwright-player", Player);
