// A small evaluator of Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics for the deploy
// tests: may this pod (or address) open a connection to that pod (or address) on this port? It
// follows the API's rules — a pod selected by no policy of a direction is open in that direction;
// selected by any, only what one of their rules allows; a connection needs the sender's egress AND
// the receiver's ingress; a peer's podSelector alone means the policy's namespace, with a
// namespaceSelector both must match — for the features the manifests use: label selectors
// (matchLabels, matchExpressions), namespace selectors, IPv4 ipBlocks with `except`, numbered and
// named ports, endPort. Only the policies of `namespace` are given; other namespaces have none.
import type { Obj } from './load.js';

export interface Pod {
  kind: 'pod';
  namespace: string;
  labels: Record<string, string>;
  /** The namespace's labels (kubernetes.io/metadata.name is added). */
  namespaceLabels?: Record<string, string>;
  /** Named container ports, for policies that name a port. */
  namedPorts?: Record<string, number>;
}
export interface Address {
  kind: 'ip';
  ip: string;
}
export type Endpoint = Pod | Address;

export const pod = (namespace: string, labels: Record<string, string>, extra: Partial<Pod> = {}): Pod => ({
  kind: 'pod',
  namespace,
  labels,
  ...extra,
});
export const ip = (address: string): Address => ({ kind: 'ip', ip: address });

/** A label selector (matchLabels AND every matchExpression); {} selects everything. */
export function selects(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok = {
      In: has && e.values.includes(labels[e.key]),
      NotIn: !has || !e.values.includes(labels[e.key]),
      Exists: has,
      DoesNotExist: !has,
    }[e.operator as 'In'];
    if (ok === undefined) throw new Error(`unsupported selector operator ${e.operator}`);
    if (!ok) return false;
  }
  return true;
}

function ipv4(address: string): number | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  return m ? m.slice(1).reduce((n, part) => n * 256 + Number(part), 0) : null;
}
/** Whether an IPv4 address is in a CIDR; IPv6 CIDRs never hold an IPv4 address. */
export function inCidr(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(address);
  const b = ipv4(base!);
  if (a === null) throw new Error(`only IPv4 addresses are evaluated here: ${address}`);
  if (b === null) return false; // an IPv6 block
  const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function peerMatches(peer: Obj, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) {
    if (other.kind !== 'ip') return false; // pod traffic by pod IP is CNI-specific: not relied on
    return inCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c: string) => inCidr(other.ip, c));
  }
  if (other.kind !== 'pod') return false;
  const nsLabels = { ...other.namespaceLabels, 'kubernetes.io/metadata.name': other.namespace };
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels) : other.namespace === policyNamespace;
  return nsOk && (peer.podSelector ? selects(peer.podSelector, other.labels) : true);
}

function portMatches(ports: Obj[] | undefined, port: number, protocol: string, target: Endpoint): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    const n = typeof p.port === 'number' ? p.port : target.kind === 'pod' ? target.namedPorts?.[p.port] : undefined;
    if (n === undefined) return false;
    return p.endPort ? port >= n && port <= p.endPort : port === n;
  });
}

/** Whether `direction` traffic of `subject` with `other` on port/protocol passes the policies. */
function passes(policies: Obj[], direction: 'Ingress' | 'Egress', subject: Pod, other: Endpoint, port: number, protocol: string): boolean {
  const mine = policies.filter((p) => p.metadata.namespace === subject.namespace && selects(p.spec.podSelector, subject.labels));
  const types = (p: Obj): string[] => p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
  const relevant = mine.filter((p) => types(p).includes(direction));
  if (relevant.length === 0) return true;
  const key = direction === 'Ingress' ? 'ingress' : 'egress';
  const peersKey = direction === 'Ingress' ? 'from' : 'to';
  const portTarget = direction === 'Ingress' ? subject : other;
  return relevant.some((p) =>
    (p.spec[key] ?? []).some(
      (rule: Obj) =>
        (!rule[peersKey] || rule[peersKey].length === 0 || rule[peersKey].some((peer: Obj) => peerMatches(peer, p.metadata.namespace, other))) &&
        portMatches(rule.ports, port, protocol, portTarget),
    ),
  );
}

/**
 * Whether `from` may open a connection to `to` on `port`: `from`'s egress (when it is a pod of a
 * namespace with policies) and `to`'s ingress (likewise) both allow it.
 */
export function allowed(policies: Obj[], from: Endpoint, to: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP'): boolean {
  const egress = from.kind === 'pod' ? passes(policies, 'Egress', from, to, port, protocol) : true;
  const ingress = to.kind === 'pod' ? passes(policies, 'Ingress', to, from, port, protocol) : true;
  return egress && ingress;
}
