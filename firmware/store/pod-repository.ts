// Pods attached on this node (standalone mode's source of truth for pod identity and labels) and the
// addresses IPAM gave them. Allocation and the pod row are separate steps of the CNI ADD, each committed.
import type { StoreDatabase } from './database';
import type { ContainerPort } from '../core/api/types';
import { allocateIpv4 } from '../core/ipam/ip-allocator';
import type { Ipv4Cidr } from '../core/ipam/ipv4';

export interface PodRecord {
  containerId: string;
  namespace: string;
  name: string;
  ifName: string;
  netns: string;
  hostIfName: string;
  ip: string;
  mac: string;
  labels: Record<string, string>;
  /** Named ports resolve against these (standalone pods carry them in CNI_ARGS K8S_POD_PORTS). */
  containerPorts: ContainerPort[];
  createdAt: string;
}

interface PodRow {
  container_id: string;
  namespace: string;
  name: string;
  if_name: string;
  netns: string;
  host_if_name: string;
  ip: string;
  mac: string;
  labels: string;
  container_ports: string;
  created_at: string;
}

function toRecord(row: PodRow): PodRecord {
  return {
    containerId: row.container_id,
    namespace: row.namespace,
    name: row.name,
    ifName: row.if_name,
    netns: row.netns,
    hostIfName: row.host_if_name,
    ip: row.ip,
    mac: row.mac,
    labels: JSON.parse(row.labels) as Record<string, string>,
    containerPorts: JSON.parse(row.container_ports) as ContainerPort[],
    createdAt: row.created_at,
  };
}

export class PodRepository {
  constructor(private readonly db: StoreDatabase) {}

  list(): PodRecord[] {
    return (this.db.prepare('SELECT * FROM pods ORDER BY namespace, name').all() as PodRow[]).map(toRecord);
  }

  byContainerId(containerId: string): PodRecord | undefined {
    const row = this.db.prepare('SELECT * FROM pods WHERE container_id = ?').get(containerId) as
      PodRow | undefined;
    return row && toRecord(row);
  }

  byName(namespace: string, name: string): PodRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM pods WHERE namespace = ? AND name = ?')
      .get(namespace, name) as PodRow | undefined;
    return row && toRecord(row);
  }

  insert(pod: PodRecord): void {
    this.db
      .prepare(
        `INSERT INTO pods (container_id, namespace, name, if_name, netns, host_if_name, ip, mac, labels,
                           container_ports, created_at)
         VALUES (@containerId, @namespace, @name, @ifName, @netns, @hostIfName, @ip, @mac, @labels,
                 @containerPorts, @createdAt)`,
      )
      .run({
        ...pod,
        labels: JSON.stringify(pod.labels),
        containerPorts: JSON.stringify(pod.containerPorts),
      });
  }

  setLabels(namespace: string, name: string, labels: Record<string, string>): boolean {
    const result = this.db
      .prepare('UPDATE pods SET labels = ? WHERE namespace = ? AND name = ?')
      .run(JSON.stringify(labels), namespace, name);
    return result.changes > 0;
  }

  delete(containerId: string): boolean {
    return this.db.prepare('DELETE FROM pods WHERE container_id = ?').run(containerId).changes > 0;
  }
}

export class IpAllocationRepository {
  constructor(private readonly db: StoreDatabase) {}

  /** Picks and records an address in one transaction. Idempotent per (containerId, ifName). */
  allocate(subnet: Ipv4Cidr, containerId: string, ifName: string, requested?: string): string {
    return this.db.transaction(() => {
      const existing = this.db
        .prepare('SELECT ip FROM ip_allocations WHERE container_id = ? AND if_name = ?')
        .get(containerId, ifName) as { ip: string } | undefined;
      if (existing && (requested === undefined || requested === existing.ip)) return existing.ip;
      const inUse = new Set(
        (this.db.prepare('SELECT ip FROM ip_allocations').all() as { ip: string }[]).map((r) => r.ip),
      );
      const last = this.db.prepare("SELECT value FROM settings WHERE key = 'ipam.last'").get() as
        { value: string } | undefined;
      const ip = allocateIpv4({ subnet, inUse, requested, after: last?.value });
      this.db
        .prepare('INSERT INTO ip_allocations (ip, container_id, if_name, allocated_at) VALUES (?, ?, ?, ?)')
        .run(ip, containerId, ifName, new Date().toISOString());
      this.db.prepare("INSERT OR REPLACE INTO settings (key, value) VALUES ('ipam.last', ?)").run(ip);
      return ip;
    })();
  }

  release(containerId: string, ifName: string): number {
    return this.db
      .prepare('DELETE FROM ip_allocations WHERE container_id = ? AND if_name = ?')
      .run(containerId, ifName).changes;
  }

  list(): { ip: string; containerId: string; ifName: string }[] {
    return (
      this.db.prepare('SELECT ip, container_id, if_name FROM ip_allocations ORDER BY ip').all() as {
        ip: string;
        container_id: string;
        if_name: string;
      }[]
    ).map((r) => ({ ip: r.ip, containerId: r.container_id, ifName: r.if_name }));
  }
}
