import NIOCore
import Prometheus
import Synchronization
import TributaryModel
import TributaryRemoteWrite

/// Scraping on the target's event loop: a timer, the request, and the response's callback that
/// ingests it, all on the loop that owns the connection. No Swift task wakes for a scrape: an
/// awaited future resumes on Swift's global executor and then hops back, two thread wake-ups
/// a scrape (perf, 200 targets).
extension ScrapeLoop {
    /// The event-loop side of a loop: its timer and whether a scrape is in flight. Touched on
    /// the event loop only.
    struct Schedule {
        var timer: Scheduled<Void>?
        var inFlight = false
        var stopped = false
        /// The task in ``run(on:)``, resumed when the loop has stopped.
        var done: CheckedContinuation<Void, Never>?
    }

    /// Scrapes with `scraper` until the task is cancelled; then aborts a scrape in flight
    /// (nothing of it is written) and returns.
    func run(on scraper: TargetScraper) async {
        let eventLoop = scraper.eventLoop
        await withTaskCancellationHandler {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                eventLoop.execute {
                    // Cancelled before this ran: `stop` found no one to resume.
                    let stopped = self.schedule.withLock { s in
                        s.done = done
                        return s.stopped
                    }
                    if stopped { self.finish() } else { self.scheduleNext(scraper) }
                }
            }
        } onCancel: {
            eventLoop.execute { self.stop(scraper) }
        }
    }

    private func scheduleNext(_ scraper: TargetScraper) {
        let timer = scraper.eventLoop.scheduleTask(in: .milliseconds(delayToNextSlot())) { self.fire(scraper) }
        schedule.withLock { $0.timer = timer }
    }

    private func fire(_ scraper: TargetScraper) {
        scraper.eventLoop.assertInEventLoop()
        let go = schedule.withLock { s in
            s.timer = nil
            s.inFlight = !s.stopped
            return s.inFlight
        }
        guard go else { return }
        let t = scrapeTimestamp(), started = ContinuousClock.now
        metrics.scrapesTotal.increment()
        scraper.scrape().whenComplete { result in
            scraper.eventLoop.assertInEventLoop()
            let stopped = self.schedule.withLock { s in
                s.inFlight = false
                return s.stopped
            }
            guard !stopped else { return self.finish() }
            switch result {
            case .success(let answer): self.ingest((answer.body, answer.contentType), at: t, duration: started.secondsElapsed)
            case .failure(let error): self.ingest(nil, failure: "\(error)", at: t, duration: started.secondsElapsed)
            }
            self.scheduleNext(scraper)
        }
    }

    private func stop(_ scraper: TargetScraper) {
        let (timer, inFlight) = schedule.withLock { s in
            s.stopped = true
            defer { s.timer = nil }
            return (s.timer, s.inFlight)
        }
        timer?.cancel()
        // The scrape's callback finishes once the aborted request has failed.
        if inFlight { scraper.abort() } else { finish() }
    }

    private func finish() {
        let done = schedule.withLock { s in
            defer { s.done = nil }
            return s.done
        }
        done?.resume()
    }
}
