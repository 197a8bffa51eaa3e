//! [`ThenOr`]: a future, then either an answer at once or one more future to wait for.
//!
//! What `call()` needs after `send()`: on success the value is the answer, and only an error
//! answer waits once more (for its body). `futures`' `then` makes every output go through a
//! second future, built and moved into the combinator's place even when it only hands the
//! value on; the call's success path paid three copies of that future (~1 KB) per call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// What the step after the first future decided.
pub(crate) enum Next<T, G> {
    /// The answer: nothing more to wait for.
    Now(T),
    /// Wait for this future; its output is the answer.
    Wait(G),
}

pin_project_lite::pin_project! {
    /// `first`, then `next` of its output: [`Next::Now`] is the answer, [`Next::Wait`] a
    /// future to wait for in `first`'s place.
    #[project = ThenOrProj]
    #[project_replace = ThenOrReplace]
    pub(crate) enum ThenOr<F, N, G> {
        First { #[pin] first: F, next: N },
        Second { #[pin] second: G },
        Done,
    }
}

impl<F, N, G> ThenOr<F, N, G> {
    pub(crate) fn new(first: F, next: N) -> Self {
        ThenOr::First { first, next }
    }
}

impl<F, N, G> Future for ThenOr<F, N, G>
where
    F: Future,
    N: FnOnce(F::Output) -> Next<G::Output, G>,
    G: Future,
{
    type Output = G::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G::Output> {
        if let ThenOrProj::First { first, .. } = self.as_mut().project() {
            let output = ready!(first.poll(cx));
            let ThenOrReplace::First { next, .. } = self.as_mut().project_replace(ThenOr::Done)
            else {
                unreachable!("the state was `First` above");
            };
            match next(output) {
                Next::Now(answer) => return Poll::Ready(answer),
                Next::Wait(second) => self.as_mut().project_replace(ThenOr::Second { second }),
            };
        }
        match self.as_mut().project() {
            ThenOrProj::Second { second } => {
                let answer = ready!(second.poll(cx));
                self.project_replace(ThenOr::Done);
                Poll::Ready(answer)
            }
            ThenOrProj::First { .. } | ThenOrProj::Done => {
                panic!("`ThenOr` polled after it completed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{pending, ready};
    use std::task::Waker;

    use super::*;

    fn poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_now_answer_is_the_output_at_once() {
        let future = ThenOr::new(ready(2), |n: i32| -> Next<i32, std::future::Ready<i32>> {
            Next::Now(n * 10)
        });
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Ready(20));
        assert!(matches!(*future, ThenOr::Done));
    }

    #[test]
    fn a_wait_answer_is_the_second_futures_output() {
        let future = ThenOr::new(ready(2), |n: i32| Next::Wait(ready(n + 1)));
        assert_eq!(poll_once(std::pin::pin!(future)), Poll::Ready(3));
    }

    #[test]
    fn a_pending_second_future_is_polled_again_in_place() {
        let future = ThenOr::new(ready(()), |()| -> Next<(), _> {
            Next::Wait(futures::FutureExt::boxed(async {
                let mut once = false;
                std::future::poll_fn(|cx| {
                    if once {
                        Poll::Ready(())
                    } else {
                        once = true;
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
            }))
        });
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert_eq!(poll_once(future.as_mut()), Poll::Ready(()));
    }

    #[test]
    fn a_pending_first_future_keeps_the_step() {
        let future = ThenOr::new(
            pending::<i32>(),
            |n: i32| -> Next<i32, std::future::Ready<i32>> { Next::Now(n) },
        );
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert!(matches!(*future, ThenOr::First { .. }));
    }
}
