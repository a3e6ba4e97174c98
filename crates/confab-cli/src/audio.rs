//! `confab audio`: the microphone path (voice processing) and the playout path (Opus over a
//! lossy network, jitter buffer, FEC and concealment) run over WAV recordings, so what they
//! do can be heard and scored (the echo and loss tests score these files with AECMOS and
//! STOI).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use confab_media::audio::opus::{
    FRAME_DURATION, FRAME_SAMPLES, OpusEncoder, OpusError, OpusSettings,
};
use confab_media::audio::processing::{
    AudioProcessor, PROCESSING_FRAME_SAMPLES, ProcessingError, ProcessingSettings,
};
use confab_media::audio::tone::SAMPLE_RATE;
use confab_media::audio::voice::RemoteVoice;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::cli::{AudioCommand, NetworkArgs, ProcessArgs};

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: hound::Error },
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: hound::Error },
    #[error("{path}: {source}")]
    Rename {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: expected 48000 Hz mono, got {rate} Hz with {channels} channels")]
    Format {
        path: PathBuf,
        rate: u32,
        channels: u16,
    },
    #[error("{0}")]
    Processing(#[from] ProcessingError),
    #[error("{0}")]
    Opus(#[from] OpusError),
}

pub fn run(command: &AudioCommand) -> Result<(), AudioError> {
    match command {
        AudioCommand::Process(args) => process(args),
        AudioCommand::Network(args) => network(args),
    }
}

fn process(args: &ProcessArgs) -> Result<(), AudioError> {
    let far = read_wav(&args.far)?;
    let mut mic = read_wav(&args.mic)?;
    let processor = AudioProcessor::new(ProcessingSettings {
        echo_cancellation: !args.no_echo_cancellation,
        noise_suppression: !args.no_noise_suppression,
        auto_gain: !args.no_auto_gain,
        high_pass: !args.no_high_pass,
    })?;
    // Whole 10 ms frames; the far end is padded with silence where it is shorter.
    mic.truncate(mic.len() / PROCESSING_FRAME_SAMPLES * PROCESSING_FRAME_SAMPLES);
    let silence = [0.0; PROCESSING_FRAME_SAMPLES];
    let started = Instant::now();
    for (index, frame) in mic.chunks_exact_mut(PROCESSING_FRAME_SAMPLES).enumerate() {
        let start = index * PROCESSING_FRAME_SAMPLES;
        let played = far
            .get(start..start + PROCESSING_FRAME_SAMPLES)
            .unwrap_or(&silence);
        processor.analyze_playout(played)?;
        processor.process_capture(frame)?;
    }
    let frames = (mic.len() / PROCESSING_FRAME_SAMPLES).max(1);
    let ms_per_frame = started.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    write_wav(&args.out, &mic)?;
    let stats = processor.stats();
    println!(
        "processed seconds={:.2} ms_per_frame={ms_per_frame:.4} erle_db={} echo_delay_ms={}",
        mic.len() as f64 / f64::from(SAMPLE_RATE),
        stats.erle_db.map_or("-".into(), |db| format!("{db:.1}")),
        stats.echo_delay_ms.map_or("-".into(), |ms| ms.to_string())
    );
    Ok(())
}

/// Sends the recording as the microphone path does (Opus with FEC, DTX's empty packets not
/// sent), loses and delays packets at random, and plays it out on a 20 ms clock. The output
/// is written in the sender's timeline — each 20 ms where the sender had it — so it lines up
/// sample for sample with the input for scoring.
fn network(args: &NetworkArgs) -> Result<(), AudioError> {
    let input = read_wav(&args.input)?;
    let mut encoder = OpusEncoder::new(OpusSettings::default())?;
    let mut voice = RemoteVoice::new()?;
    let mut random = StdRng::seed_from_u64(args.seed);
    let epoch = Instant::now();
    let frames = input.len() / FRAME_SAMPLES;
    let mut arrivals = Vec::new();
    let (mut sent, mut lost) = (0u64, 0u64);
    for (index, samples) in input.chunks_exact(FRAME_SAMPLES).enumerate() {
        let packet = encoder.encode(samples)?;
        if packet.len() <= 2 {
            continue;
        }
        sent += 1;
        if random.random_bool(args.loss / 100.0) {
            lost += 1;
            continue;
        }
        let late = Duration::from_millis(random.random_range(0..=args.jitter_ms));
        arrivals.push((epoch + FRAME_DURATION * index as u32 + late, index, packet));
    }
    arrivals.sort_by_key(|&(at, index, _)| (at, index));
    let mut output = vec![0.0f32; frames * FRAME_SAMPLES];
    let mut pending = arrivals.into_iter().peekable();
    // Enough ticks for the last packet, however late, to play.
    let ticks = frames + (args.jitter_ms / 20) as usize + 20;
    for tick in 0..ticks {
        let now = epoch + FRAME_DURATION * tick as u32 + Duration::from_millis(1);
        while let Some((at, index, packet)) = pending.next_if(|(at, ..)| *at <= now) {
            voice.push((index * FRAME_SAMPLES) as u64, packet, at);
        }
        let played = voice.next_frame(now)?;
        let Some(frame) = voice.last_frame().map(|f| f as usize) else {
            continue;
        };
        let Some(slot) = output.get_mut(frame * FRAME_SAMPLES..(frame + 1) * FRAME_SAMPLES) else {
            continue;
        };
        if !(args.no_concealment && voice.last_was_concealed()) {
            slot.copy_from_slice(&played);
        }
    }
    write_wav(&args.out, &output)?;
    let stats = voice.stats();
    println!(
        "network sent={sent} lost={lost} played={} fec={} concealed={} late={} dropped={} \
         target_delay_ms={}",
        stats.jitter.played,
        stats.jitter.rebuilt_from_fec,
        stats.jitter.concealed,
        stats.jitter.late,
        stats.jitter.dropped,
        stats.target_delay.as_millis()
    );
    Ok(())
}

fn read_wav(path: &Path) -> Result<Vec<f32>, AudioError> {
    let read_error = |source| AudioError::Read {
        path: path.to_owned(),
        source,
    };
    let mut reader = hound::WavReader::open(path).map_err(read_error)?;
    let spec = reader.spec();
    if spec.sample_rate != SAMPLE_RATE || spec.channels != 1 {
        return Err(AudioError::Format {
            path: path.to_owned(),
            rate: spec.sample_rate,
            channels: spec.channels,
        });
    }
    let samples: Result<Vec<f32>, hound::Error> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << spec.bits_per_sample.clamp(1, 32).saturating_sub(1)) as f32;
            reader
                .samples::<i32>()
                .map(|sample| sample.map(|s| s as f32 * scale))
                .collect()
        }
    };
    samples.map_err(read_error)
}

/// 16-bit PCM, written next to its final name and renamed into place once complete.
fn write_wav(path: &Path, samples: &[f32]) -> Result<(), AudioError> {
    let partial = path.with_extension("wav.partial");
    let write_error = |source| AudioError::Write {
        path: path.to_owned(),
        source,
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&partial, spec).map_err(write_error)?;
    for &sample in samples {
        let value = (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16;
        writer.write_sample(value).map_err(write_error)?;
    }
    writer.finalize().map_err(write_error)?;
    std::fs::rename(&partial, path).map_err(|source| AudioError::Rename {
        path: path.to_owned(),
        source,
    })
}
