/**
 * Offline validation of Calico resource files (`tortie datastore check`): multi-document YAML or
 * JSON, `kind: List` / `<Kind>List` wrappers, every problem reported with the resource and field
 * path, e.g. `IPPool/default-pool: spec.cidr: "10.0.0.0/33" is not a valid CIDR`.
 */
import { parseAllDocuments } from 'yaml';
import { describeResource, isResourceKind, KINDS, validateResource, type ResourceKind } from './model/index.js';

export interface CheckReport {
  /** Resources looked at. */
  resources: number;
  /** One line per problem, in file order. */
  problems: string[];
}

const CALICO_API = 'projectcalico.org/v3';

/** Maps a document's apiVersion/kind to a model kind (Kubernetes NetworkPolicy is its own kind). */
function modelKind(apiVersion: unknown, kind: unknown): ResourceKind | string {
  if (kind === 'NetworkPolicy' && typeof apiVersion === 'string' && apiVersion.startsWith('networking.k8s.io/')) return 'KubernetesNetworkPolicy';
  return typeof kind === 'string' ? kind : '';
}

export function checkResourcesText(text: string): CheckReport {
  const report: CheckReport = { resources: 0, problems: [] };
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length) {
      for (const e of doc.errors) report.problems.push(`document ${i + 1}: YAML error: ${e.message.split('\n')[0]}`);
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // empty document
    checkValue(value, `document ${i + 1}`, report);
  });
  return report;
}

function checkValue(value: unknown, where: string, report: CheckReport): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    report.problems.push(`${where}: not a resource (expected a mapping with apiVersion, kind, metadata, spec)`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (typeof obj.kind === 'string' && (obj.kind === 'List' || obj.kind.endsWith('List'))) {
    if (!Array.isArray(obj.items)) {
      report.problems.push(`${where}: ${obj.kind} without an items array`);
      return;
    }
    obj.items.forEach((item, j) => checkValue(item, `${where} item ${j + 1}`, report));
    return;
  }
  report.resources++;
  const kind = modelKind(obj.apiVersion, obj.kind);
  const name = describeResource(String(obj.kind ?? '<no kind>'), obj);
  if (!isResourceKind(kind)) {
    report.problems.push(`${name}: kind ${JSON.stringify(obj.kind)} is not a Calico resource tortie knows (${Object.keys(KINDS).join(', ')})`);
    return;
  }
  if (kind !== 'KubernetesNetworkPolicy' && obj.apiVersion !== CALICO_API) {
    report.problems.push(`${name}: apiVersion: ${JSON.stringify(obj.apiVersion)} should be ${CALICO_API}`);
  }
  // calicoctl puts namespaced resources without a namespace into "default".
  let candidate: Record<string, unknown> = { ...obj, kind };
  const md = obj.metadata;
  if (KINDS[kind].namespaced && md && typeof md === 'object' && !(md as Record<string, unknown>).namespace) {
    candidate = { ...candidate, metadata: { ...(md as Record<string, unknown>), namespace: 'default' } };
  }
  const r = validateResource(kind, candidate);
  if (!r.ok) for (const p of r.problems) report.problems.push(`${name}: ${p.path}: ${p.message}`);
}
