//! The threads the rules run on, apart from every event loop.
//!
//! A rule is an admin's script: however it is bounded, it is code nobody
//! reviewed that can take milliseconds where a decision takes microseconds.
//! Run on an HTTP worker, the Dispatcher's arbiter or a socket thread, every
//! request, delivery or socket queued behind that loop would wait for it; run
//! inside a write transaction, every other write would. So the rules run
//! here, on threads of their own, and nothing that holds a lock or serves a
//! socket ever waits on a script: the caller hands a job over and awaits
//! its answer, and an answer that is late is replaced by the default.
//!
//! Two lanes, so that background work can't delay an event being published:
//! - [`Lane::Publication`]: `prioridad` and `destinos` of events on their way
//!   to the store, one thread per two cores (at least one, `--reglas-hilos`);
//! - [`Lane::Background`]: escalation reviews, `probar` and compiling drafts,
//!   one thread.
//!
//! Each lane's queue is bounded: a job that finds it full is not queued, and
//! the caller decides the default at once (counted as `sobrecarga`).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::oneshot;

/// Jobs one lane holds per thread before it refuses more.
const JOBS_PER_THREAD: usize = 256;

/// Which threads a job runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Publication,
    Background,
}

/// The lane's queue was full: the job was not taken.
#[derive(Debug, Clone, Copy)]
pub struct Busy;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The rules' threads, started on first use (an engine that only ever
/// evaluates on its caller's thread — a test, a benchmark — starts none).
pub struct RulePool {
    publication_threads: usize,
    lanes: OnceLock<[SyncSender<Job>; 2]>,
}

impl std::fmt::Debug for RulePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulePool")
            .field("publication_threads", &self.publication_threads)
            .field("started", &self.lanes.get().is_some())
            .finish()
    }
}

impl RulePool {
    /// `publication_threads`: 0 = one per two cores, at least one.
    pub fn new(publication_threads: usize) -> Self {
        let publication_threads = match publication_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2)),
            n => n,
        };
        Self {
            publication_threads,
            lanes: OnceLock::new(),
        }
    }

    /// Queues `job` on `lane`; its answer arrives on the receiver. A caller
    /// that stops waiting (drops the receiver) before the job starts saves
    /// the job's run: it is skipped.
    pub fn submit<T: Send + 'static>(
        &self,
        lane: Lane,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, Busy> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            if !answer.is_closed() {
                let _ = answer.send(job());
            }
        });
        let sender = &self.lanes()[lane as usize];
        match sender.try_send(job) {
            Ok(()) => Ok(answered),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Busy),
        }
    }

    fn lanes(&self) -> &[SyncSender<Job>; 2] {
        self.lanes.get_or_init(|| {
            [
                start_lane("publicacion", self.publication_threads),
                start_lane("fondo", 1),
            ]
        })
    }
}

/// `threads` threads taking jobs from one bounded queue. They end when the
/// pool is dropped (the queue's sender with it).
fn start_lane(name: &str, threads: usize) -> SyncSender<Job> {
    let (sender, receiver) = sync_channel::<Job>(JOBS_PER_THREAD * threads);
    let receiver = Arc::new(Mutex::new(receiver));
    for i in 0..threads {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("reglas-{name}-{i}"))
            .spawn(move || run_jobs(&receiver));
        if let Err(e) = spawned {
            tracing::error!(error = %e, lane = name, "no se pudo crear un hilo de reglas");
        }
    }
    sender
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match receiver.lock() {
            Ok(r) => r.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            // A job can't unwind into this loop: the engine never panics on
            // a script, and a bug that did would lose one decision, not the
            // thread.
            Ok(job) => {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!("una evaluación de reglas entró en pánico");
                }
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn un_trabajo_corre_en_un_hilo_de_reglas_y_responde() {
        let pool = RulePool::new(1);
        let nombre = pool
            .submit(Lane::Publication, || {
                std::thread::current().name().map(str::to_owned)
            })
            .expect("queued")
            .await
            .expect("answered");
        assert_eq!(nombre.as_deref(), Some("reglas-publicacion-0"));
    }

    #[tokio::test]
    async fn un_carril_lleno_rechaza_sin_esperar_y_el_otro_sigue() {
        let pool = RulePool::new(1);
        let (soltar, suelto) = std::sync::mpsc::channel::<()>();
        let suelto = Mutex::new(suelto);
        // Block the background lane's only thread, then fill its queue.
        let bloqueo = pool
            .submit(Lane::Background, move || {
                let _ = suelto.lock().unwrap().recv_timeout(Duration::from_secs(10));
            })
            .expect("queued");
        let mut esperando = Vec::new();
        let rechazado = loop {
            match pool.submit(Lane::Background, || ()) {
                Ok(rx) => esperando.push(rx),
                Err(Busy) => break true,
            }
            assert!(
                esperando.len() <= JOBS_PER_THREAD + 1,
                "the queue is bounded"
            );
        };
        assert!(rechazado);
        let otro = pool.submit(Lane::Publication, || 7).expect("queued");
        assert_eq!(otro.await.unwrap(), 7, "the publication lane is not held");
        soltar.send(()).unwrap();
        bloqueo.await.unwrap();
        for rx in esperando {
            rx.await.unwrap();
        }
    }
}
