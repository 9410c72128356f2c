//! Logging of `gastown run`: `tracing` to stderr (human on a terminal, or JSON) and to a daily
//! rotating file in the runtime dir. The filter comes from `GASTOWN_LOG` (env-filter syntax),
//! else `[run] log` in town.toml, and is reloaded on SIGHUP.

use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, reload};

/// The output format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Keeps the file writer flushing, and lets the filter be changed.
pub struct Logging {
    _guard: WorkerGuard,
    filter: reload::Handle<EnvFilter, Registry>,
}

use gastown_town::defaults::LOG_FILES_KEPT as KEEP_FILES;

fn filter_from(config_filter: &str) -> Result<EnvFilter> {
    let text = std::env::var("GASTOWN_LOG").unwrap_or_else(|_| config_filter.to_string());
    EnvFilter::try_new(&text).with_context(|| {
        format!("bad log filter {text:?}: use e.g. \"info\" or \"gastown=debug,info\"")
    })
}

/// Install the global subscriber.
pub fn init(runtime_dir: &Path, format: LogFormat, config_filter: &str) -> Result<Logging> {
    let dir = runtime_dir.join("logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("gastown")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(&dir)
        .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let (filter, handle) = reload::Layer::new(filter_from(config_filter)?);
    let file_layer = fmt::layer().json().with_writer(file_writer).boxed();
    let stderr_layer = match format {
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
        LogFormat::Human => fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer)
        .with(file_layer)
        .try_init()
        .context("cannot install the logger")?;
    Ok(Logging {
        _guard: guard,
        filter: handle,
    })
}

impl Logging {
    /// Replace the filter (SIGHUP).
    pub fn reload(&self, config_filter: &str) -> Result<()> {
        let filter = filter_from(config_filter)?;
        self.filter
            .reload(filter)
            .context("cannot reload the log filter")
    }
}
