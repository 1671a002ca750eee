// The analytics store: one Durable Object per UTC day (see src/edge/analytics.rs for why), its
// minutes in a SQLite table with one row per minute and route. Isolates add their batches every few
// seconds; a row that exists already is added to by the core's own merge (analytics_merge), so
// counts from every isolate sum up and survive restarts. Two days after its day has ended, an
// alarm deletes the object's whole storage.
import { DurableObject } from "cloudflare:workers";
import Gateway from "./index.js";

const merge = Gateway.prototype.analytics_merge;
const MINUTES_PER_DAY = 1440;
const KEEP_DAYS = 2;

export class AnalyticsStore extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`CREATE TABLE IF NOT EXISTS minutes (
      minute INTEGER NOT NULL, route TEXT NOT NULL, counts TEXT NOT NULL, PRIMARY KEY (minute, route))`);
  }

  // Adds rows [minute, route, counts] (all of this object's day).
  record(rows) {
    for (const [minute, route, counts] of rows) {
      const stored = this.sql.exec("SELECT counts FROM minutes WHERE minute = ? AND route = ?", minute, route).toArray()[0];
      const sum = stored ? Array.from(merge(JSON.parse(stored.counts), counts)) : counts;
      this.sql.exec("INSERT OR REPLACE INTO minutes (minute, route, counts) VALUES (?, ?, ?)", minute, route, JSON.stringify(sum));
    }
    if (rows.length) {
      const dayEnds = (Math.floor(rows[0][0] / MINUTES_PER_DAY) + 1) * MINUTES_PER_DAY * 60_000;
      this.ctx.storage.setAlarm(dayEnds + KEEP_DAYS * MINUTES_PER_DAY * 60_000);
    }
  }

  // The rows of minutes from..to, oldest first.
  read(from, to) {
    return this.sql
      .exec("SELECT minute, route, counts FROM minutes WHERE minute BETWEEN ? AND ? ORDER BY minute, route", from, to)
      .toArray()
      .map((row) => [row.minute, row.route, JSON.parse(row.counts)]);
  }

  async alarm() {
    await this.ctx.storage.deleteAll();
  }
}
