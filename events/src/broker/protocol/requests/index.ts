import type { ApiCodec } from './codec.js';
import { apiVersions } from './api-versions.js';
import { createPartitions } from './create-partitions.js';
import { createTopics } from './create-topics.js';
import { deleteGroups } from './delete-groups.js';
import { deleteTopics } from './delete-topics.js';
import { describeConfigs } from './describe-configs.js';
import { describeGroups } from './describe-groups.js';
import { fetch } from './fetch.js';
import { findCoordinator } from './find-coordinator.js';
import { heartbeat } from './heartbeat.js';
import { initProducerId } from './init-producer-id.js';
import { joinGroup } from './join-group.js';
import { leaveGroup } from './leave-group.js';
import { listGroups } from './list-groups.js';
import { listOffsets } from './list-offsets.js';
import { metadata } from './metadata.js';
import { offsetCommit } from './offset-commit.js';
import { offsetDelete } from './offset-delete.js';
import { offsetFetch } from './offset-fetch.js';
import { produce } from './produce.js';
import { syncGroup } from './sync-group.js';

export {
  apiVersions, createPartitions, createTopics, deleteGroups, deleteTopics, describeConfigs, describeGroups, fetch,
  findCoordinator, heartbeat, initProducerId, joinGroup, leaveGroup, listGroups, listOffsets, metadata, offsetCommit,
  offsetDelete, offsetFetch, produce, syncGroup,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const codecs: ApiCodec<any, any>[] = [
  produce, fetch, listOffsets, metadata, offsetCommit, offsetFetch, findCoordinator, joinGroup, heartbeat,
  leaveGroup, syncGroup, describeGroups, listGroups, apiVersions, createTopics, deleteTopics, initProducerId,
  describeConfigs, createPartitions, deleteGroups, offsetDelete,
];
