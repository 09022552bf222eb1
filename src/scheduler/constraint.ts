/**
 * Placement constraints in the scheduler: the grammar is the model's
 * (src/model/constraints.ts), shared with the CLI, the API and the
 * orchestrator; here is only how a constraint reads a NodeInfo, whose
 * values are lower-cased and platform-normalised ahead of time so the hot
 * path compares strings and nothing else.
 */
import { constraintHolds, type Constraint, type NodeAttr } from '../model/constraints.js';
import type { NodeInfo } from './node-info.js';

export { parseAttr, parseConstraint, parseConstraints, parseSpreadDescriptor, type Constraint, type NodeAttr } from '../model/constraints.js';

/** The node's value for attr, lower-cased; '' when absent. */
export function attrValue(info: NodeInfo, attr: NodeAttr): string {
  switch (attr.kind) {
    case 'id':
      return info.idLc;
    case 'hostname':
      return info.hostnameLc;
    case 'ip':
      return info.ip;
    case 'role':
      return info.roleLc;
    case 'os':
      return info.os;
    case 'arch':
      return info.arch;
    case 'label':
      return info.labelsLc.get(attr.name) ?? '';
    case 'engineLabel':
      return info.engineLabelsLc.get(attr.name) ?? '';
  }
}

export function constraintMatches(c: Constraint, info: NodeInfo): boolean {
  // node.ip matches by block; everything else is an equality of normalised strings.
  if (c.block) return constraintHolds(c, attrValue(info, c.attr));
  return (attrValue(info, c.attr) === c.match) === (c.op === '==');
}
