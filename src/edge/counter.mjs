// The rate-limit counter: one Durable Object per limit and key (Cloudflare's recommended shape, no
// single global object), so every isolate and location shares one count that survives restarts.
// The window is the object's whole state: a few pairs of numbers, kept in its (SQLite-backed)
// storage and in memory while the object lives. The counting itself is the core's (counter.rs).
//
// Writes are not awaited: the runtime's output gate holds the answer until they are stored, so an
// answer never reports a count that a restart could lose. An alarm deletes the state once the
// window is empty, so a million idle senders cost no storage.
import { DurableObject } from "cloudflare:workers";
import Gateway from "./index.js";

const spendFrom = Gateway.prototype.counter_spend;
const giveBackTo = Gateway.prototype.counter_give_back;

export class RateLimitCounter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.window = [];
    this.period = 0;
    ctx.blockConcurrencyWhile(async () => {
      const state = await ctx.storage.get("state");
      if (state) ({ window: this.window, period: this.period } = state);
    });
  }

  // Answers [allowed, remaining, reset, countedAt]; see counter_spend.
  spend(requests, period) {
    const answer = spendFrom(this.window, Date.now() / 1000, requests, period);
    const window = Array.from(answer.subarray(4));
    if (answer[0] === 1) this.store(window, period);
    else this.window = window; // expired buckets dropped; nothing new to store
    return Array.from(answer.subarray(0, 4));
  }

  giveBack(countedAt) {
    this.store(Array.from(giveBackTo(this.window, countedAt)), this.period);
  }

  store(window, period) {
    this.window = window;
    this.period = period;
    if (window.length === 0) {
      this.ctx.storage.deleteAll();
      return;
    }
    this.ctx.storage.put("state", { window, period });
    // The window's last bucket end plus the period: nothing counted is left after it.
    this.ctx.storage.setAlarm((window[window.length - 2] + period) * 1000);
  }

  async alarm() {
    const expiresAt = this.window.length ? this.window[this.window.length - 2] + this.period : 0;
    if (Date.now() / 1000 >= expiresAt) {
      this.window = [];
      await this.ctx.storage.deleteAll();
    } else {
      await this.ctx.storage.setAlarm(expiresAt * 1000);
    }
  }
}
