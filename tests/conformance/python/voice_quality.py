"""Speech clips, a synthetic room and the scores the voice tests judge Confab's audio path by.

The far end and the near end are espeak-ng voices (two speakers, two texts). The microphone
hears the far end through a room — 40 ms of delay (device buffers and air), then a direct path
and an exponentially decaying tail (RT60 200 ms) — plus the near-end talker and a little
self-noise. Echo is scored two ways: ERLE (how much quieter the far end's echo became) and
Microsoft's AECMOS (a model trained on listeners' opinions; `speechmos`), the loss test by STOI
(`pystoi`). LiveKit's own libwebrtc audio processing module (`livekit.rtc.AudioProcessingModule`)
runs on the same clips as the yardstick.
"""

import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly, fftconvolve

RATE = 48_000
# The near end starts talking once the cancellers have had time to learn the room.
DOUBLE_TALK_STARTS_S = 4.0
FRAME = RATE // 100  # 10 ms, what both processing modules take
ECHO_DELAY_S = 0.040
RT60_S = 0.2
TAIL_S = 0.15

FAR_TEXT = (
    "The quarterly numbers came in this morning. Sales in the northern region grew by "
    "twelve percent, while the south stayed flat. I think we should move two people onto "
    "the new accounts before the summer, and review the plan again in July."
)
NEAR_TEXT = (
    "That sounds reasonable to me. Can you send the spreadsheet after the call? "
    "I would like to check the southern figures myself."
)


def speak(text: str, voice: str, directory: str) -> np.ndarray:
    """`text` spoken by espeak-ng, at 48 kHz in [-1, 1]."""
    path = os.path.join(directory, f"{voice.replace('+', '_')}.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", path, text], check=True)
    samples, rate = read_wav(path)
    # espeak-ng speaks at 22.05 kHz: 48000 / 22050 = 320 / 147.
    assert rate == 22_050, rate
    return resample_poly(samples, 320, 147).astype(np.float32)


def room_impulse_response(seed: int = 5) -> np.ndarray:
    """Delay, direct path, then a decaying noise tail; the echo comes back 6 dB down."""
    rng = np.random.default_rng(seed)
    delay = int(ECHO_DELAY_S * RATE)
    tail = np.arange(int(TAIL_S * RATE))
    response = rng.standard_normal(tail.size) * np.exp(-6.9 * tail / (RT60_S * RATE)) * 0.05
    response[0] = 1.0
    response /= np.sqrt(np.sum(response**2))
    return np.concatenate([np.zeros(delay), response * 0.5]).astype(np.float32)


@dataclass
class EchoClip:
    far: np.ndarray  # what the speaker played (the loopback reference)
    mic: np.ndarray  # what the microphone heard
    echo: np.ndarray  # the far end's part of `mic`
    near: np.ndarray  # the near-end talker's part of `mic`


def echo_clip(far: np.ndarray, near: np.ndarray | None, near_starts_s: float) -> EchoClip:
    """The far end through the room, plus (for double talk) the near end from `near_starts_s`."""
    far = normalise(far, peak=0.5)
    echo = fftconvolve(far, room_impulse_response())[: far.size].astype(np.float32)
    talker = np.zeros_like(far)
    if near is not None:
        start = int(near_starts_s * RATE)
        piece = normalise(near, peak=0.4)[: far.size - start]
        talker[start : start + piece.size] = piece
    noise = np.random.default_rng(9).standard_normal(far.size).astype(np.float32) * 1e-3
    mic = np.clip(echo + talker + noise, -1, 1).astype(np.float32)
    return EchoClip(far=far, mic=mic, echo=echo, near=talker)


def normalise(samples: np.ndarray, peak: float) -> np.ndarray:
    return (samples / max(np.max(np.abs(samples)), 1e-9) * peak).astype(np.float32)


def erle_db(mic: np.ndarray, out: np.ndarray, far: np.ndarray, settle_s: float = 2.0) -> float:
    """How much quieter the output is than the microphone where the far end talks, after the
    canceller's first `settle_s` seconds."""
    start = int(settle_s * RATE)
    frames = (far.size - start) // FRAME
    active = []
    for index in range(frames):
        span = slice(start + index * FRAME, start + (index + 1) * FRAME)
        if np.sqrt(np.mean(far[span] ** 2)) > 0.02:
            active.append(span)
    mic_energy = sum(float(np.sum(mic[span] ** 2)) for span in active)
    out_energy = sum(float(np.sum(out[span] ** 2)) for span in active)
    return 10 * np.log10(mic_energy / max(out_energy, 1e-12))


def aecmos(clip: EchoClip, out: np.ndarray, talk_type: str) -> tuple[float, float]:
    """AECMOS (48 kHz model): (echo MOS, degradation MOS), 1 (bad) to 5 (excellent)."""
    from speechmos import aecmos as model

    length = min(clip.far.size, out.size, 20 * RATE - 1)
    result = model.run(
        {
            "lpb": np.clip(clip.far[:length], -1, 1),
            "mic": np.clip(clip.mic[:length], -1, 1),
            "enh": np.clip(out[:length], -1, 1),
        },
        sr=RATE,
        talk_type=talk_type,
    )
    return float(result["echo_mos"]), float(result["deg_mos"])


def process_with_confab(confab: str, clip: EchoClip, *flags: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as directory:
        far, mic, out = (os.path.join(directory, f"{name}.wav") for name in ("far", "mic", "out"))
        write_wav(far, clip.far)
        write_wav(mic, clip.mic)
        subprocess.run(
            [confab, "audio", "process", "--far", far, "--mic", mic, "--out", out, *flags],
            check=True,
            capture_output=True,
            timeout=120,
        )
        samples, _ = read_wav(out)
        return samples


def process_with_livekit(clip: EchoClip, *, auto_gain: bool) -> np.ndarray:
    """The same clip through LiveKit's libwebrtc APM, 10 ms at a time, far end first."""
    from livekit import rtc

    apm = rtc.AudioProcessingModule(
        echo_cancellation=True,
        noise_suppression=True,
        high_pass_filter=True,
        auto_gain_control=auto_gain,
    )
    out = np.zeros_like(clip.mic)
    for start in range(0, clip.mic.size - FRAME + 1, FRAME):
        far = rtc.AudioFrame(to_pcm16(clip.far[start : start + FRAME]), RATE, 1, FRAME)
        apm.process_reverse_stream(far)
        mic = rtc.AudioFrame(to_pcm16(clip.mic[start : start + FRAME]), RATE, 1, FRAME)
        apm.process_stream(mic)
        out[start : start + FRAME] = np.frombuffer(bytes(mic.data), dtype=np.int16) / 32768.0
    return out


def to_pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes()


def read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2, path
        rate = reader.getframerate()
        data = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    return (data / 32768.0).astype(np.float32), rate


def write_wav(path: str, samples: np.ndarray) -> None:
    with wave.open(path, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(RATE)
        writer.writeframes(to_pcm16(samples))


def single_talk_scores(confab: str, far: np.ndarray) -> dict[str, dict[str, float]]:
    """Far end alone: ERLE, echo MOS and degradation MOS with no processing, Confab's and
    LiveKit's module (both: echo cancellation, noise suppression, high-pass; no AGC, which
    would change the level ERLE measures)."""
    clip = echo_clip(far, None, 0.0)
    scores = {}
    for name, out in _processed(confab, clip).items():
        echo_mos, degradation_mos = aecmos(clip, out, "st")
        scores[name] = {
            "erle_db": erle_db(clip.mic, out, clip.far),
            "echo_mos": echo_mos,
            "degradation_mos": degradation_mos,
        }
    return scores


def double_talk_scores(confab: str, far: np.ndarray, near: np.ndarray) -> dict[str, dict]:
    """Both talk: how much of the near-end talker survives (the output's projection on the
    talker alone, where the talker speaks; 1 = all of it), echo MOS and degradation MOS."""
    clip = echo_clip(far, near, DOUBLE_TALK_STARTS_S)
    start = int(DOUBLE_TALK_STARTS_S * RATE)
    talking = np.abs(clip.near[start:]) > 0
    reference = clip.near[start:][talking]
    scores = {}
    for name, out in _processed(confab, clip).items():
        heard = out[start:][talking]
        echo_mos, degradation_mos = aecmos(clip, out, "dt")
        scores[name] = {
            "near_kept": float(np.dot(reference, heard) / np.dot(reference, reference)),
            "echo_mos": echo_mos,
            "degradation_mos": degradation_mos,
        }
    return scores


def _processed(confab: str, clip: EchoClip) -> dict[str, np.ndarray]:
    """Each output padded with silence to the clip's length (the modules process whole 10 ms
    frames only)."""
    outputs = {
        "none": clip.mic,
        "confab": process_with_confab(confab, clip, "--no-auto-gain"),
        "livekit": process_with_livekit(clip, auto_gain=False),
    }
    return {name: _fit(out, clip.mic.size) for name, out in outputs.items()}


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    fitted = np.zeros(length, dtype=np.float32)
    fitted[: min(length, samples.size)] = samples[:length]
    return fitted


def loss_scores(confab: str, talk: np.ndarray, seeds=(1, 2, 3)) -> dict[str, float]:
    """STOI of speech sent through `confab audio network`: Opus alone, 10 % loss with FEC
    and concealment (mean and worst of `seeds`), the same losses played as silence, and 10 %
    loss with 0-60 ms of jitter."""
    from pystoi import stoi

    talk = normalise(talk, peak=0.5)
    with tempfile.TemporaryDirectory() as directory:
        source = os.path.join(directory, "talk.wav")
        write_wav(source, talk)

        def score(name: str, *flags: str) -> float:
            out = os.path.join(directory, f"{name}.wav")
            subprocess.run(
                [confab, "audio", "network", "--input", source, "--out", out, *flags],
                check=True,
                capture_output=True,
                timeout=120,
            )
            played, _ = read_wav(out)
            length = min(played.size, talk.size)
            return float(stoi(talk[:length], played[:length], RATE, extended=False))

        concealed = [score(f"fec-{s}", "--loss", "10", "--seed", str(s)) for s in seeds]
        silenced = [
            score(f"silent-{s}", "--loss", "10", "--seed", str(s), "--no-concealment")
            for s in seeds
        ]
        return {
            "opus_only": score("clean", "--loss", "0"),
            "loss10_concealed_mean": float(np.mean(concealed)),
            "loss10_concealed_worst": float(np.min(concealed)),
            "loss10_silence_mean": float(np.mean(silenced)),
            "loss10_jitter60": score("jitter", "--loss", "10", "--jitter-ms", "60"),
        }


def processing_cost(confab: str, far: np.ndarray) -> dict[str, float]:
    """Time per 10 ms frame of each module on the single-talk clip (full processing: echo
    cancellation, noise suppression, high-pass, gain control), single-threaded and CPU-bound.
    LiveKit's includes its Python FFI calls and frame objects, two per frame."""
    clip = echo_clip(far, None, 0.0)
    frames = clip.mic.size // FRAME
    started = time.perf_counter()
    process_with_livekit(clip, auto_gain=True)
    livekit = (time.perf_counter() - started) / frames * 1000
    with tempfile.TemporaryDirectory() as directory:
        far_path, mic_path, out = (os.path.join(directory, f"{n}.wav") for n in ("f", "m", "o"))
        write_wav(far_path, clip.far)
        write_wav(mic_path, clip.mic)
        result = subprocess.run(
            [confab, "audio", "process", "--far", far_path, "--mic", mic_path, "--out", out],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    fields = dict(item.split("=", 1) for item in result.stdout.split() if "=" in item)
    return {"confab_ms_per_frame": float(fields["ms_per_frame"]), "livekit_ms_per_frame": livekit}


def _print_scores(prefix: str, scores: dict) -> None:
    for key, value in scores.items():
        if isinstance(value, dict):
            _print_scores(f"{prefix}{key}.", value)
        else:
            print(f"SCORE {prefix}{key} {value:.4f}", flush=True)


if __name__ == "__main__":
    # `cargo xtask bench media`: every score as `SCORE name value` lines on stdout.
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as scratch:
        far_talk = speak(FAR_TEXT, "en-us", scratch)
        near_talk = speak(NEAR_TEXT, "en-us+f3", scratch)
    _print_scores("single_talk.", single_talk_scores(binary, far_talk))
    _print_scores("double_talk.", double_talk_scores(binary, far_talk, near_talk))
    _print_scores("loss.", loss_scores(binary, far_talk))
    _print_scores("cost.", processing_cost(binary, far_talk))
