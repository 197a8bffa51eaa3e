//! Future combinators that leave a finished future where it is.
//!
//! `futures`' `map` and `then` end by writing their whole state over with a "complete"
//! value (`project_replace`): for a call's future of several kilobytes, that is a copy of the
//! whole future on every call, and the default stack had three of them nested (the hooks' map,
//! `capture_failure`'s map, `call()`'s `then`). These do not rewrite their state when they
//! finish: the finished future stays in place until the combinator is dropped.
//!
//! ```
//! use perspio_core::future::{Next, map_in_place, then_or};
//!
//! # futures::executor::block_on(async {
//! assert_eq!(map_in_place(async { 2 }, |n| n * 10).await, 20);
//! let answer = then_or(async { 2 }, |n: i32| {
//!     if n > 1 { Next::Now(n) } else { Next::Wait(async move { n + 40 }) }
//! });
//! assert_eq!(answer.await, 2);
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project_lite::pin_project! {
    /// [`map_in_place`]'s future.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct MapInPlace<F, M> {
        #[pin]
        future: F,
        map: Option<M>,
    }
}

/// `future`'s output passed through `map`, as `futures`' `map` does, without rewriting the
/// combinator's state when it finishes.
pub fn map_in_place<F: Future, M: FnOnce(F::Output) -> T, T>(
    future: F,
    map: M,
) -> MapInPlace<F, M> {
    MapInPlace {
        future,
        map: Some(map),
    }
}

impl<F: Future, M: FnOnce(F::Output) -> T, T> Future for MapInPlace<F, M> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        if this.map.is_none() {
            panic!("`MapInPlace` polled after it completed");
        }
        let output = ready!(this.future.poll(cx));
        match this.map.take() {
            Some(map) => Poll::Ready(map(output)),
            None => unreachable!("checked above"),
        }
    }
}

/// What the step after [`then_or`]'s first future decided.
#[derive(Debug)]
pub enum Next<T, G> {
    /// The answer: nothing more to wait for.
    Now(T),
    /// Wait for this future; its output is the answer.
    Wait(G),
}

pin_project_lite::pin_project! {
    /// [`then_or`]'s future.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ThenOr<F, N, G> {
        #[pin]
        state: Step<F, N, G>,
    }
}

pin_project_lite::pin_project! {
    #[project = StepProj]
    #[derive(Debug)]
    enum Step<F, N, G> {
        // Waiting for the first future; `next` is taken when it is called.
        First { #[pin] first: F, next: Option<N> },
        // Waiting for the second.
        Second { #[pin] second: G },
    }
}

/// `first`, then `next` of its output: [`Next::Now`] is the answer at once, [`Next::Wait`] a
/// future to wait for in `first`'s place. Unlike `futures`' `then`, an answer that is ready
/// makes no second future, and the state is rewritten only when there is one.
pub fn then_or<F, N, G>(first: F, next: N) -> ThenOr<F, N, G>
where
    F: Future,
    N: FnOnce(F::Output) -> Next<G::Output, G>,
    G: Future,
{
    ThenOr {
        state: Step::First {
            first,
            next: Some(next),
        },
    }
}

impl<F, N, G> Future for ThenOr<F, N, G>
where
    F: Future,
    N: FnOnce(F::Output) -> Next<G::Output, G>,
    G: Future,
{
    type Output = G::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G::Output> {
        let mut state = self.project().state;
        if let StepProj::First { first, next } = state.as_mut().project() {
            if next.is_none() {
                panic!("`ThenOr` polled after it completed");
            }
            let output = ready!(first.poll(cx));
            let Some(next) = next.take() else {
                unreachable!("checked above");
            };
            match next(output) {
                // The finished first future stays in place: no write of the whole state.
                Next::Now(answer) => return Poll::Ready(answer),
                Next::Wait(second) => state.set(Step::Second { second }),
            }
        }
        match state.project() {
            StepProj::Second { second } => second.poll(cx),
            StepProj::First { .. } => unreachable!("the first future is done"),
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

    /// Pending once (waking itself), then ready with `value`.
    async fn later<T>(value: T) -> T {
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
        value
    }

    #[test]
    fn a_mapped_output_is_the_maps() {
        let mut future = std::pin::pin!(map_in_place(later(2), |n| n * 10));
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert_eq!(poll_once(future.as_mut()), Poll::Ready(20));
    }

    #[test]
    #[should_panic(expected = "polled after it completed")]
    fn a_finished_map_polled_again_says_so() {
        let mut future = std::pin::pin!(map_in_place(ready(1), |n| n));
        let _ = poll_once(future.as_mut());
        let _ = poll_once(future.as_mut());
    }

    #[test]
    fn a_now_answer_is_the_output_at_once_and_makes_no_second_future() {
        let future = then_or(ready(2), |n: i32| -> Next<i32, std::future::Ready<i32>> {
            Next::Now(n * 10)
        });
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Ready(20));
        assert!(matches!(future.state, Step::First { .. }));
    }

    #[test]
    fn a_wait_answer_is_the_second_futures_output() {
        let future = then_or(later(2), |n: i32| Next::Wait(later(n + 1)));
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert!(matches!(future.state, Step::Second { .. }));
        assert_eq!(poll_once(future.as_mut()), Poll::Ready(3));
    }

    #[test]
    fn a_pending_first_future_keeps_the_step() {
        let future = then_or(
            pending::<i32>(),
            |n: i32| -> Next<i32, std::future::Ready<i32>> { Next::Now(n) },
        );
        let mut future = std::pin::pin!(future);
        assert_eq!(poll_once(future.as_mut()), Poll::Pending);
        assert!(matches!(future.state, Step::First { .. }));
    }

    #[test]
    #[should_panic(expected = "polled after it completed")]
    fn a_finished_then_or_polled_again_says_so() {
        let future = then_or(ready(1), |n: i32| -> Next<i32, std::future::Ready<i32>> {
            Next::Now(n)
        });
        let mut future = std::pin::pin!(future);
        let _ = poll_once(future.as_mut());
        let _ = poll_once(future.as_mut());
    }
}
