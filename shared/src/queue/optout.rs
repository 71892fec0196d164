//! The opt-out list: numbers never to message. Enqueue rejects rows to them (the enqueue script
//! asks the list once per chunk); these are the operator's calls on it (`wacast optout`).

use redis::AsyncCommands;

use crate::phone::PhoneNumber;
use crate::queue::connection::Queue;
use crate::queue::error::QueueError;

impl Queue {
    /// Adds numbers to the opt-out list; later enqueues reject rows to them. Returns how many
    /// were new.
    pub async fn add_optouts(&self, numbers: &[PhoneNumber]) -> Result<u64, QueueError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let digits: Vec<&str> = numbers.iter().map(PhoneNumber::digits).collect();
        self.conn()
            .sadd(self.keys.optout(), digits)
            .await
            .map_err(QueueError::redis("add opt-outs"))
    }

    /// Removes numbers from the opt-out list. Returns how many were on it.
    pub async fn remove_optouts(&self, numbers: &[PhoneNumber]) -> Result<u64, QueueError> {
        if numbers.is_empty() {
            return Ok(0);
        }
        let digits: Vec<&str> = numbers.iter().map(PhoneNumber::digits).collect();
        self.conn()
            .srem(self.keys.optout(), digits)
            .await
            .map_err(QueueError::redis("remove opt-outs"))
    }

    /// Whether a number is on the opt-out list.
    pub async fn is_opted_out(&self, number: &PhoneNumber) -> Result<bool, QueueError> {
        self.conn()
            .sismember(self.keys.optout(), number.digits())
            .await
            .map_err(QueueError::redis("check opt-out"))
    }

    /// How many numbers are on the opt-out list.
    pub async fn optout_count(&self) -> Result<u64, QueueError> {
        self.conn()
            .scard(self.keys.optout())
            .await
            .map_err(QueueError::redis("count opt-outs"))
    }
}
