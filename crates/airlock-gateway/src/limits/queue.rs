//! Request queueing: a cap on requests in flight upstream (per project, per
//! provider) with a bounded, time-limited wait for a place. Past the wait
//! queue or the wait, the request is refused with a Retry-After.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_store::QueuePolicy;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

struct Gate {
    /// The size the places were made for: a policy of another size (a
    /// project changed in the admin API) starts a new gate, and requests
    /// holding the old one's places finish on it.
    max_in_flight: u32,
    places: Arc<Semaphore>,
    waiting: AtomicU32,
}

/// Why a request found no place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRefusal {
    /// Every place taken and the wait queue full.
    Full,
    /// Waited `timeout_secs` without a place.
    TimedOut,
}

#[derive(Default)]
pub struct Queues {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
}

impl Queues {
    /// Takes a place in the queue named `name`, waiting if the policy allows.
    pub async fn enter(
        &self,
        name: &str,
        policy: &QueuePolicy,
    ) -> Result<OwnedSemaphorePermit, QueueRefusal> {
        let gate = {
            let mut gates = self.gates.lock().map_err(|_| QueueRefusal::Full)?;
            let fresh = || {
                Arc::new(Gate {
                    max_in_flight: policy.max_in_flight,
                    places: Arc::new(Semaphore::new(policy.max_in_flight as usize)),
                    waiting: AtomicU32::new(0),
                })
            };
            let gate = gates.entry(name.to_string()).or_insert_with(fresh);
            if gate.max_in_flight != policy.max_in_flight {
                *gate = fresh();
            }
            gate.clone()
        };
        if let Ok(permit) = gate.places.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if gate.waiting.fetch_add(1, Ordering::AcqRel) >= policy.max_waiting {
            gate.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(QueueRefusal::Full);
        }
        let waited = tokio::time::timeout(
            Duration::from_secs(policy.timeout_secs),
            gate.places.clone().acquire_owned(),
        )
        .await;
        gate.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(QueueRefusal::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_a_place_then_refuses_past_the_queue() {
        let queues = Queues::default();
        let policy = QueuePolicy {
            max_in_flight: 1,
            max_waiting: 1,
            timeout_secs: 30,
        };
        let first = queues.enter("p", &policy).await.unwrap();
        let queues = Arc::new(queues);
        let waiter = {
            let queues = queues.clone();
            tokio::spawn(async move { queues.enter("p", &policy).await.map(drop) })
        };
        // Let the waiter take its place in the queue.
        while queues.gates.lock().unwrap()["p"]
            .waiting
            .load(Ordering::Acquire)
            == 0
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            queues.enter("p", &policy).await.err(),
            Some(QueueRefusal::Full)
        );
        drop(first);
        assert_eq!(waiter.await.unwrap(), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_is_bounded_in_time() {
        let queues = Queues::default();
        let policy = QueuePolicy {
            max_in_flight: 1,
            max_waiting: 5,
            timeout_secs: 2,
        };
        let _held = queues.enter("p", &policy).await.unwrap();
        assert_eq!(
            queues.enter("p", &policy).await.err(),
            Some(QueueRefusal::TimedOut)
        );
    }

    #[tokio::test]
    async fn a_new_size_applies_to_the_next_request() {
        let queues = Queues::default();
        let one = QueuePolicy {
            max_in_flight: 1,
            max_waiting: 0,
            timeout_secs: 1,
        };
        let _held = queues.enter("project:p", &one).await.unwrap();
        assert_eq!(
            queues.enter("project:p", &one).await.unwrap_err(),
            QueueRefusal::Full
        );
        let two = QueuePolicy {
            max_in_flight: 2,
            ..one
        };
        let _second = queues.enter("project:p", &two).await.unwrap();
        let _third = queues.enter("project:p", &two).await.unwrap();
        assert_eq!(
            queues.enter("project:p", &two).await.unwrap_err(),
            QueueRefusal::Full
        );
    }
}
