// Real timers for the console session (the pure core receives them through ConsoleTimers).
import type { ConsoleTimers } from '../core/console/ports';

export const nodeConsoleTimers: ConsoleTimers = {
  now: () => Date.now(),
  after(ms, callback) {
    const timer = setTimeout(callback, ms);
    // A pending idle logout must not keep the process alive.
    timer.unref();
    return () => clearTimeout(timer);
  },
};
