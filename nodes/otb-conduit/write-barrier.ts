/**
 * When has a broker really taken a QoS 0 publish? Sparkplug B sends NDATA at QoS 0 (Sparkplug
 * B 3.0, "NDATA messages MUST be published with MQTT QoS equal to 0"), so mqtt.js reports only
 * the write into the socket. A link that breaks (an RST, or a half-open link until the keepalive
 * gives up after 1.5 x keepalive) swallows what was written into it: in
 * test/publish/probe-sparkplug-link.test.ts 27 of 100 values sent into a black-holed link, and
 * whole bursts across RSTs, were counted as delivered and never reached the host.
 *
 * A broker reads the packets of one connection in order and answers each PINGREQ when it reads
 * it (MQTT 3.1.1 4.6: packets of one connection are processed in order; 3.12/3.13), so a
 * PINGRESP to a PINGREQ written after an NDATA proves that the broker has read that NDATA. Every
 * PINGREQ is counted, ours and mqtt.js's keepalive ones alike: writes are confirmed by the first
 * PINGRESP whose PINGREQ was written after them. What a lost link leaves unconfirmed is not
 * settled, so the queue replays it after the next BIRTH (flagged historical).
 */
import type { MqttClient, OnPacketCallback } from "mqtt";

type Packet = Parameters<OnPacketCallback>[0];

export class WriteBarrier<T> {
  private sent = 0;
  private answered = 0;
  private readonly waiting: Array<{ need: number; item: T }> = [];
  private pingScheduled = false;
  private closed = false;
  private drained: Array<() => void> = [];

  constructor(private readonly client: MqttClient, private readonly onConfirmed: (item: T) => void) {
    client.on("packetsend", this.onSend);
    client.on("packetreceive", this.onReceive);
  }

  get unconfirmed(): number {
    return this.waiting.length;
  }

  /** `item` has been written to the socket: it is confirmed by the answer to a later PINGREQ. */
  written(item: T): void {
    if (this.closed) return;
    this.waiting.push({ need: this.sent + 1, item });
    if (this.pingScheduled) return;
    // One PINGREQ covers every write of this turn of the event loop.
    this.pingScheduled = true;
    setImmediate(() => {
      this.pingScheduled = false;
      const last = this.waiting[this.waiting.length - 1];
      if (!this.closed && this.client.connected && last && this.sent < last.need) this.client.sendPing();
    });
  }

  /** Resolves once nothing waits for confirmation, or after `ms`. */
  drain(ms: number): Promise<void> {
    if (this.waiting.length === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.drained.push(done);
    });
  }

  /** The link is gone: nothing more is confirmed (what waits is replayed by the queue). */
  close(): void {
    this.closed = true;
    this.waiting.length = 0;
    this.client.removeListener("packetsend", this.onSend);
    this.client.removeListener("packetreceive", this.onReceive);
    for (const done of this.drained.splice(0)) done();
  }

  private readonly onSend = (packet: Packet): void => {
    if (packet.cmd === "pingreq") this.sent++;
  };

  private readonly onReceive = (packet: Packet): void => {
    if (packet.cmd !== "pingresp" || this.closed) return;
    this.answered++;
    let n = 0;
    while (n < this.waiting.length && this.waiting[n]!.need <= this.answered) n++;
    const confirmed = this.waiting.splice(0, n);
    for (const w of confirmed) this.onConfirmed(w.item);
    if (this.waiting.length === 0) for (const done of this.drained.splice(0)) done();
  };
}
