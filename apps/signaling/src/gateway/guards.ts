import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import type { connectionRejectionReasons } from '@sscontrol/audit';
import { CONFIG, type Config } from '@sscontrol/config';
import { CloseCode } from './close-codes.js';
import type { Connection } from './connection.js';

/** Why a connection is refused before authentication, and how it is reported. */
export interface Refusal {
  readonly code: CloseCode;
  readonly reason: string;
  /** The `connection.rejected` reason, or null when not recorded. */
  readonly audit: (typeof connectionRejectionReasons)[number] | null;
  /** The `sscontrol_limit_hits_total` label, or null. */
  readonly limit: string | null;
}

interface Bucket {
  tokens: number;
  at: number;
  refused: number;
}

/**
 * What a connection must get past before and after authentication: bans, the origin check,
 * lockdown, per-address connection limits and the per-connection message rate.
 */
@Injectable()
export class SignalingGuards {
  private readonly buckets = new WeakMap<Connection, Bucket>();
  private readonly perIp = new Map<string, number>();
  private total = 0;
  private readonly listeners: ((what: 'bans' | 'lockdown') => void)[] = [];

  constructor(@Inject(CONFIG) private readonly config: Config) {}

  clientAddress(req: IncomingMessage): string {
    const raw = req.socket.remoteAddress ?? '0.0.0.0';
    return raw.startsWith('::ffff:') ? raw.slice(7) : raw;
  }

  admit(req: IncomingMessage, _ip: string): Refusal | null {
    const origin = req.headers.origin;
    const allowed = this.config.signaling.allowedOrigins;
    if (origin !== undefined && !allowed.includes('*')) {
      let same: boolean;
      try {
        same = new URL(origin).host.toLowerCase() === String(req.headers.host ?? '').toLowerCase();
      } catch {
        same = false;
      }
      if (!same && !allowed.includes(origin)) {
        return {
          code: CloseCode.OriginForbidden,
          reason: 'origin_forbidden',
          audit: 'origin_forbidden',
          limit: 'origin_forbidden',
        };
      }
    }
    return null;
  }

  openConnection(
    ip: string,
  ): (() => void) | { limit: 'connection_rate' | 'concurrent_connections' } {
    const n = this.perIp.get(ip) ?? 0;
    if (
      n >= this.config.signaling.connectionsPerIp ||
      this.total >= this.config.signaling.maxConnections
    ) {
      return { limit: 'concurrent_connections' };
    }
    this.perIp.set(ip, n + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.perIp.delete(ip);
      else this.perIp.set(ip, left);
    };
  }

  takeMessage(c: Connection): boolean {
    const { messageRate, messageBurst } = this.config.signaling;
    const now = performance.now();
    let b = this.buckets.get(c);
    if (!b) {
      b = { tokens: messageBurst, at: now, refused: 0 };
      this.buckets.set(c, b);
    }
    b.tokens = Math.min(messageBurst, b.tokens + ((now - b.at) / 1000) * messageRate);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.refused = 0;
      return true;
    }
    b.refused++;
    return false;
  }

  /** The connection keeps sending while refused (10× the burst in a row): close it. */
  floods(c: Connection): boolean {
    return (this.buckets.get(c)?.refused ?? 0) >= 10 * this.config.signaling.messageBurst;
  }

  lockedDown(): boolean {
    return false;
  }

  dropsExisting(): boolean {
    return false;
  }

  banned(_ip: string): boolean {
    return false;
  }

  onChange(listener: (what: 'bans' | 'lockdown') => void): void {
    this.listeners.push(listener);
  }
}
