//! [`Deletion`]: what seven did with a message it was asked to delete.

/// What seven did with a message it was asked to delete: the `Done` of a delete's
/// [`Outcome`](crate::provider::outcome::Outcome). Whatever else can happen to a delete (retry
/// later, refused, an access problem, no answer) is one of `Outcome`'s other classes; deleting
/// again is always safe.
#[derive(Debug, Clone, PartialEq)]
pub enum Deletion {
    /// The scheduled message was deleted and will not be sent.
    Deleted,
    /// Too late: seven already sent it, and WhatsApp cannot revoke a message.
    AlreadySent {
        /// seven's words.
        reason: String,
    },
    /// seven has no such message for this account.
    NotFound,
}
