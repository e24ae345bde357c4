//! Django-style model signals: `pre_save`, `post_save`, `pre_delete`, `post_delete`.
//!
//! `save_on`, `delete_on` and `soft_delete_on` send them themselves; receivers get a
//! clone of the instance and a context (`created`, `soft`). Bulk operations
//! (`bulk_insert_on`, `QuerySet::update`/`delete`) send none, as in Django.
//!
//! ```
//! # #[derive(Clone)] struct Post;
//! use rustango_orm::signals::{connect_post_save, disconnect};
//! let id = connect_post_save::<Post, _, _>(|_post, ctx| async move {
//!     if ctx.created { /* send a welcome email, fill a cache … */ }
//! });
//! assert!(disconnect(id));
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// Context of `pre_save` receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreSaveContext {
    /// The row is about to be inserted (its primary key is unset).
    pub created: bool,
}

/// Context of `post_save` receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostSaveContext {
    /// The row was inserted rather than updated.
    pub created: bool,
}

/// Context of `pre_delete`/`post_delete` receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteContext {
    /// A soft delete (the row stays, stamped).
    pub soft: bool,
}

/// Identifies a connected receiver, for [`disconnect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiverId(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Signal {
    PreSave,
    PostSave,
    PreDelete,
    PostDelete,
}

type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;
type Handler =
    Arc<dyn Fn(&(dyn Any + Send + Sync), &(dyn Any + Send + Sync)) -> Option<BoxFut> + Send + Sync>;

type Registry = HashMap<(TypeId, Signal), Vec<(ReceiverId, Handler)>>;

static RECEIVERS: LazyLock<RwLock<Registry>> = LazyLock::new(|| RwLock::new(HashMap::new()));
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn connect<M, C, F, Fut>(signal: Signal, f: F) -> ReceiverId
where
    M: Clone + Send + Sync + 'static,
    C: Copy + Send + Sync + 'static,
    F: Fn(M, C) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let id = ReceiverId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let handler: Handler = Arc::new(move |m, c| {
        let m = m.downcast_ref::<M>()?.clone();
        let c = *c.downcast_ref::<C>()?;
        Some(Box::pin(f(m, c)) as BoxFut)
    });
    RECEIVERS
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry((TypeId::of::<M>(), signal))
        .or_default()
        .push((id, handler));
    id
}

async fn send<M: Send + Sync + 'static, C: Send + Sync + 'static>(signal: Signal, m: &M, ctx: C) {
    let handlers: Vec<Handler> = {
        let map = RECEIVERS.read().unwrap_or_else(|e| e.into_inner());
        match map.get(&(TypeId::of::<M>(), signal)) {
            Some(v) => v.iter().map(|(_, h)| h.clone()).collect(),
            None => return,
        }
    };
    for h in handlers {
        if let Some(fut) = h(m, &ctx) {
            fut.await;
        }
    }
}

/// Removes a receiver; `false` when it was not connected.
pub fn disconnect(id: ReceiverId) -> bool {
    let mut map = RECEIVERS.write().unwrap_or_else(|e| e.into_inner());
    for list in map.values_mut() {
        if let Some(pos) = list.iter().position(|(r, _)| *r == id) {
            list.remove(pos);
            return true;
        }
    }
    false
}

macro_rules! signal_fns {
    ($connect:ident, $send:ident, $send_dyn:ident, $signal:ident, $ctx:ty, $doc:literal) => {
        #[doc = concat!("Connects a receiver to ", $doc, " of `M`.")]
        pub fn $connect<M, F, Fut>(f: F) -> ReceiverId
        where
            M: Clone + Send + Sync + 'static,
            F: Fn(M, $ctx) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = ()> + Send + 'static,
        {
            connect::<M, $ctx, F, Fut>(Signal::$signal, f)
        }

        #[doc = concat!("Sends ", $doc, " for `m` to every receiver, in connection order.")]
        pub async fn $send<M: Send + Sync + 'static>(m: &M, ctx: $ctx) {
            send(Signal::$signal, m, ctx).await
        }

        pub(crate) async fn $send_dyn<M: Send + Sync + 'static>(m: &M, ctx: $ctx) {
            send(Signal::$signal, m, ctx).await
        }
    };
}

signal_fns!(
    connect_pre_save,
    send_pre_save,
    send_pre_save_dyn,
    PreSave,
    PreSaveContext,
    "`pre_save`"
);
signal_fns!(
    connect_post_save,
    send_post_save,
    send_post_save_dyn,
    PostSave,
    PostSaveContext,
    "`post_save`"
);
signal_fns!(
    connect_pre_delete,
    send_pre_delete,
    send_pre_delete_dyn,
    PreDelete,
    DeleteContext,
    "`pre_delete`"
);
signal_fns!(
    connect_post_delete,
    send_post_delete,
    send_post_delete_dyn,
    PostDelete,
    DeleteContext,
    "`post_delete`"
);
