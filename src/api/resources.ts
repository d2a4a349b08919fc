// The resources kemu serves, as discovery lists them. The registry itself lives in schema.ts
// (one entry per kind, with its field schema); this module is the narrow view most code needs.
export {
  type ResourceInfo,
  allResources,
  resourceByPath,
  kindInfo,
  resourceInfo,
  groupOfResource,
  splitApiVersion,
} from './schema.js';
