//! Uploaded CSV files: received from a multipart form chunk by chunk straight to disk (never
//! whole in memory), capped in size, kept in a private temporary directory (mode 0700, its
//! files never served back nor executed), and deleted when their enqueue ends or when they
//! expire unused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Multipart;
use axum::http::StatusCode;
use rand::RngCore;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

use crate::console::new_campaign::form::Options;
use crate::console::new_campaign::job::{DryRun, Job};
use crate::ingest::header_names;

/// How long an upload waits for its enqueue before it is deleted.
const EXPIRY: Duration = Duration::from_secs(60 * 60);
/// A text field of the form longer than this is refused: they hold names, times and columns.
const MAX_FIELD: usize = 16 * 1024;
/// The form's file field.
pub(crate) const FILE_FIELD: &str = "csv";

/// The uploads of this console process.
pub(crate) struct Uploads {
    max_bytes: u64,
    /// Created at the first upload; removed with everything in it when the console stops.
    dir: Mutex<Option<Arc<TempDir>>>,
    entries: Mutex<HashMap<String, Arc<Upload>>>,
}

/// One uploaded file and what has been done with it.
pub(crate) struct Upload {
    pub(crate) id: String,
    /// The upload's own directory: the CSV, the rejects file.
    pub(crate) dir: PathBuf,
    /// The file's name as the browser gave it (shown, never used as a path).
    pub(crate) file_name: String,
    pub(crate) size: u64,
    /// The names of the file's header line, offered for its columns; empty when it cannot be
    /// read as a CSV header (the dry run then says why).
    pub(crate) columns: Vec<String>,
    created: Instant,
    pub(crate) stage: Mutex<Stage>,
}

/// Where an upload is: checked (its options and their dry run, `None` while the template's
/// columns are still to be chosen), or enqueueing.
pub(crate) enum Stage {
    Checked {
        options: Box<Options>,
        dry_run: Option<Result<DryRun, String>>,
    },
    Enqueueing(Arc<Job>),
}

/// Why an upload was refused.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refused {
    fn new(status: StatusCode, message: impl Into<String>) -> Refused {
        Refused {
            status,
            message: message.into(),
        }
    }
}

impl Upload {
    /// The uploaded CSV.
    pub(crate) fn csv(&self) -> PathBuf {
        self.dir.join("upload.csv")
    }

    /// Where its rejected rows are written.
    pub(crate) fn rejects(&self) -> PathBuf {
        self.dir.join("rejects.csv")
    }
}

impl Uploads {
    pub(crate) fn new(max_bytes: u64) -> Uploads {
        Uploads {
            max_bytes,
            dir: Mutex::new(None),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// An upload by its id.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Upload>> {
        self.lock().get(id).cloned()
    }

    /// Reads the form: its text fields, and its file streamed to a new upload's directory.
    /// The file must be the form's last field, so that every option is known when it ends.
    pub(crate) async fn receive(
        &self,
        mut multipart: Multipart,
    ) -> Result<(Arc<Upload>, HashMap<String, String>), Refused> {
        self.expire();
        let mut fields = HashMap::new();
        loop {
            let field = multipart.next_field().await.map_err(|e| {
                Refused::new(
                    e.status(),
                    format!("the upload is malformed: {}", e.body_text()),
                )
            })?;
            let Some(mut field) = field else {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "the form has no CSV file: choose one in the \"CSV file\" field",
                ));
            };
            let name = field.name().unwrap_or_default().to_string();
            if name != FILE_FIELD {
                let value = field.text().await.map_err(|e| {
                    Refused::new(e.status(), format!("field {name}: {}", e.body_text()))
                })?;
                if value.len() > MAX_FIELD {
                    return Err(Refused::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("field {name} is longer than {MAX_FIELD} bytes"),
                    ));
                }
                fields.insert(name, value);
                continue;
            }
            let file_name = field.file_name().unwrap_or("upload.csv").to_string();
            let upload = self.create(file_name).map_err(|e| {
                Refused::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot store the upload: {e:#}"),
                )
            })?;
            let mut file = tokio::fs::File::create(upload.csv()).await.map_err(|e| {
                Refused::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot store the upload: {e}"),
                )
            })?;
            let mut size = 0u64;
            let written: Result<u64, Refused> = async {
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    Refused::new(
                        e.status(),
                        format!("the upload broke off: {}", e.body_text()),
                    )
                })? {
                    size += chunk.len() as u64;
                    if size > self.max_bytes {
                        return Err(Refused::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "the file is larger than this console accepts ({} MB, \
                                 `wacast serve --max-upload`): split it, or enqueue it with \
                                 `wacast enqueue`",
                                self.max_bytes / 1_000_000
                            ),
                        ));
                    }
                    file.write_all(&chunk).await.map_err(|e| {
                        Refused::new(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("cannot store the upload: {e}"),
                        )
                    })?;
                }
                file.flush().await.map_err(|e| {
                    Refused::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot store the upload: {e}"),
                    )
                })?;
                Ok(size)
            }
            .await;
            let size = match written {
                Ok(size) => size,
                Err(refused) => {
                    // A refused upload leaves nothing behind.
                    let _ = std::fs::remove_dir_all(&upload.dir);
                    return Err(refused);
                }
            };
            // At most 64 KiB from the start of the file just written: read in place.
            let columns = header_names(&upload.csv()).unwrap_or_default();
            let upload = Arc::new(Upload {
                size,
                columns,
                ..upload
            });
            self.lock().insert(upload.id.clone(), upload.clone());
            return Ok((upload, fields));
        }
    }

    /// A new upload's directory, under the private directory.
    fn create(&self, file_name: String) -> anyhow::Result<Upload> {
        let root = {
            let mut dir = self.dir.lock().unwrap_or_else(|e| e.into_inner());
            match &*dir {
                Some(root) => root.clone(),
                None => {
                    // tempfile makes the directory readable by its owner only (0700).
                    let root = Arc::new(
                        tempfile::Builder::new()
                            .prefix("wacast-uploads-")
                            .tempdir()?,
                    );
                    *dir = Some(root.clone());
                    root
                }
            }
        };
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let dir = root.path().join(&id);
        std::fs::create_dir(&dir)?;
        Ok(Upload {
            id,
            dir,
            file_name,
            size: 0,
            columns: Vec::new(),
            created: Instant::now(),
            stage: Mutex::new(Stage::Checked {
                options: Box::default(),
                dry_run: None,
            }),
        })
    }

    /// Deletes the uploads older than [`EXPIRY`] whose enqueue is not running.
    fn expire(&self) {
        let mut entries = self.lock();
        entries.retain(|_, upload| {
            let running = matches!(
                &*upload.stage.lock().unwrap_or_else(|e| e.into_inner()),
                Stage::Enqueueing(job) if job.is_running()
            );
            // An entry outlives its files (deleted when its enqueue ends), so that the progress
            // page can still lead to the campaign.
            let keep = running || upload.created.elapsed() < EXPIRY;
            if !keep {
                let _ = std::fs::remove_dir_all(&upload.dir);
            }
            keep
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Upload>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
