// The analytics store: one Durable Object per UTC day (see src/edge/analytics.rs for why), its
// minutes in the object's (SQLite-backed) storage, one key "<minute>:<route>" per minute and route,
// so a range of minutes is one ordered list (minutes since the Unix epoch keep eight digits until
// the year 2160). Isolates add their batches every few seconds; a key that exists already is added
// to by the core's own merge (analytics_merge), so counts from every isolate sum up and survive
// restarts. The input gate keeps each read-and-add whole. Two days after its day has ended, an
// alarm deletes the object's whole storage.
import { DurableObject } from "cloudflare:workers";
import Gateway from "./index.js";

const merge = Gateway.prototype.analytics_merge;
const MINUTES_PER_DAY = 1440;
const KEEP_DAYS = 2;
// The most keys one storage get or put takes.
const BATCH = 128;

export class AnalyticsStore extends DurableObject {
  // Adds rows [minute, route, counts] (all of this object's day).
  async record(rows) {
    for (let i = 0; i < rows.length; i += BATCH) {
      const chunk = rows.slice(i, i + BATCH);
      const keys = chunk.map(([minute, route]) => `${minute}:${route}`);
      const stored = await this.ctx.storage.get(keys);
      const sums = {};
      chunk.forEach(([, , counts], j) => {
        const before = stored.get(keys[j]);
        sums[keys[j]] = before ? Array.from(merge(before, counts)) : counts;
      });
      await this.ctx.storage.put(sums);
    }
    if (rows.length) {
      const dayEnds = (Math.floor(rows[0][0] / MINUTES_PER_DAY) + 1) * MINUTES_PER_DAY * 60_000;
      await this.ctx.storage.setAlarm(dayEnds + KEEP_DAYS * MINUTES_PER_DAY * 60_000);
    }
  }

  // The rows of minutes from..to, oldest first.
  async read(from, to) {
    const stored = await this.ctx.storage.list({ start: `${from}:`, end: `${to + 1}:` });
    return [...stored].map(([key, counts]) => {
      const at = key.indexOf(":");
      return [Number(key.slice(0, at)), key.slice(at + 1), counts];
    });
  }

  async alarm() {
    await this.ctx.storage.deleteAll();
  }
}
