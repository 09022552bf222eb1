/**
 * The desired-state data model: Docker's swarm objects (Engine API v1.47),
 * field names and shapes as the docker CLI sends and expects them. Every
 * object lives in the replicated store; `Version.Index` is the Raft index of
 * its last change (optimistic concurrency: `?version=N` on update).
 *
 * Durations are nanoseconds, as in Docker's API. Timestamps are RFC 3339
 * strings. Fields Shoal does not act on are still stored and returned, so a
 * `docker service inspect` round-trips what `docker service create` sent.
 */
import type { TaskState } from './task-state.js';

export interface ObjectVersion {
  Index: number;
}

/** Fields every stored object carries. */
export interface Meta {
  ID: string;
  Version: ObjectVersion;
  CreatedAt: string;
  UpdatedAt: string;
}

export type Labels = Record<string, string>;

// ------------------------------------------------------------------ nodes

export type NodeRole = 'worker' | 'manager';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';
export type Reachability = 'unknown' | 'unreachable' | 'reachable';

export interface NodeSpec {
  Name?: string;
  Labels?: Labels;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface Platform {
  Architecture: string;
  OS: string;
}

export interface ResourceObject {
  NanoCPUs?: number;
  MemoryBytes?: number;
}

export interface EngineDescription {
  EngineVersion?: string;
  Labels?: Labels;
  Plugins?: { Type: string; Name: string }[];
}

export interface NodeDescription {
  Hostname: string;
  Platform: Platform;
  Resources: ResourceObject;
  Engine: EngineDescription;
  /** Shoal: the container runtimes this node can run (process, oci, docker), its default first. */
  Runtimes?: string[];
  /**
   * Shoal: the images in this node's image store (imageTag names, sorted).
   * The scheduler prefers a node that has a task's image when the choice is
   * otherwise equal; a node without it pulls or fetches it.
   */
  Images?: string[];
}

export interface NodeStatus {
  State: NodeState;
  Message?: string;
  /** IP address the node is reachable at (Docker shows it in `node inspect`). */
  Addr: string;
}

export interface ManagerStatus {
  Leader?: boolean;
  Reachability: Reachability;
  /** Manager's cluster address, host:port. */
  Addr: string;
}

export interface Node extends Meta {
  Spec: NodeSpec;
  Description: NodeDescription;
  Status: NodeStatus;
  ManagerStatus?: ManagerStatus;
  /** Shoal: where the node's cluster port and gossip port listen (host:port). */
  ShoalAddrs?: { Cluster: string; Gossip: string };
  /** Shoal: SHA-256 of the public key the node joined with (its certificate's key), to recognise it asking again. */
  ShoalKeyId?: string;
  /** Shoal: the node's own address on each overlay it serves (the source of traffic it forwards to other nodes' tasks). */
  ShoalAttachments?: { NetworkID: string; Addr: string }[];
}

// ------------------------------------------------------------- task spec

export interface Mount {
  Target: string;
  Source?: string;
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster';
  ReadOnly?: boolean;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Labels; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
  BindOptions?: { Propagation?: string };
}

export interface HealthConfig {
  /** ["NONE"] | ["CMD", args…] | ["CMD-SHELL", command] */
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

export interface SecretReference {
  File?: { Name: string; UID?: string; GID?: string; Mode?: number };
  SecretID: string;
  SecretName: string;
}

export interface ConfigReference {
  File?: { Name: string; UID?: string; GID?: string; Mode?: number };
  ConfigID: string;
  ConfigName: string;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Labels;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Groups?: string[];
  TTY?: boolean;
  OpenStdin?: boolean;
  ReadOnly?: boolean;
  Mounts?: Mount[];
  StopSignal?: string;
  StopGracePeriod?: number;
  HealthCheck?: HealthConfig;
  Hosts?: string[];
  DNSConfig?: { Nameservers?: string[]; Search?: string[]; Options?: string[] };
  Secrets?: SecretReference[];
  Configs?: ConfigReference[];
  Init?: boolean;
  Sysctls?: Record<string, string>;
  CapabilityAdd?: string[];
  CapabilityDrop?: string[];
  Ulimits?: { Name: string; Soft: number; Hard: number }[];
  /** Anything else the client sent, kept verbatim. */
  [extra: string]: unknown;
}

export interface Limit {
  NanoCPUs?: number;
  MemoryBytes?: number;
  Pids?: number;
}

export interface RestartPolicy {
  Condition?: 'none' | 'on-failure' | 'any';
  /** ns between a task's exit and its replacement's start. */
  Delay?: number;
  /** 0 = unlimited. */
  MaxAttempts?: number;
  /** ns: the window over which MaxAttempts counts. */
  Window?: number;
}

export interface Placement {
  /** e.g. "node.role==manager", "node.labels.zone!=a". */
  Constraints?: string[];
  Preferences?: { Spread: { SpreadDescriptor: string } }[];
  /** 0 = unlimited tasks of the service per node. */
  MaxReplicas?: number;
  Platforms?: Platform[];
}

export interface NetworkAttachmentConfig {
  Target: string;
  Aliases?: string[];
  DriverOpts?: Record<string, string>;
}

export interface TaskSpec {
  ContainerSpec?: ContainerSpec;
  Resources?: { Limits?: Limit; Reservations?: ResourceObject };
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  /** Bumped by `docker service update --force` to replace tasks with an identical spec. */
  ForceUpdate?: number;
  /** Docker uses "container"/"plugin"; Shoal also takes the runtime name: "process" | "oci" | "docker". */
  Runtime?: string;
  Networks?: NetworkAttachmentConfig[];
  LogDriver?: { Name?: string; Options?: Record<string, string> };
  [extra: string]: unknown;
}

// -------------------------------------------------------------- services

/**
 * The most tasks one service may ask for at once: `Mode.Replicated.Replicas`
 * and `Mode.ReplicatedJob.MaxConcurrent` (the API refuses more with a 400
 * naming the field; the CLI refuses `--replicas` and `service scale` beyond
 * it before asking). The orchestrator creates and tracks one slot per
 * replica, so an unbounded count (2^53) would keep the leader busy forever;
 * 100,000 is far beyond what a cluster of Shoal's size runs (the scheduler
 * benchmark places 100k tasks on 10k nodes) while bounding that work.
 */
export const MAX_REPLICAS = 100_000;

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  Global?: Record<string, never>;
  ReplicatedJob?: ReplicatedJobMode;
  GlobalJob?: Record<string, never>;
}

export interface UpdateConfig {
  /** Tasks updated at once; 0 = all at once. */
  Parallelism?: number;
  /** ns between batches. */
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  /** ns to watch each updated task for failure. */
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface EndpointPortConfig {
  Name?: string;
  Protocol?: 'tcp' | 'udp' | 'sctp';
  TargetPort: number;
  PublishedPort?: number;
  PublishMode?: 'ingress' | 'host';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: EndpointPortConfig[];
}

export interface ServiceSpec {
  Name: string;
  Labels?: Labels;
  TaskTemplate: TaskSpec;
  Mode: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  Networks?: NetworkAttachmentConfig[];
  EndpointSpec?: EndpointSpec;
}

export interface UpdateStatus {
  State: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface Service extends Meta {
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint?: { Spec: EndpointSpec; Ports?: EndpointPortConfig[]; VirtualIPs?: { NetworkID: string; Addr: string }[] };
  UpdateStatus?: UpdateStatus;
  /**
   * Jobs (ReplicatedJob, GlobalJob) only, as SwarmKit keeps it: the iteration
   * their tasks belong to (the service's version before the create or update
   * that started it) and when it started. A new spec is a new iteration: the
   * job runs again.
   */
  JobStatus?: JobStatus;
}

export interface ReplicatedJobMode {
  MaxConcurrent?: number;
  TotalCompletions?: number;
}

export interface JobStatus {
  JobIteration: ObjectVersion;
  LastExecution: string;
}

// ----------------------------------------------------------------- tasks

export interface ContainerStatus {
  ContainerID?: string;
  PID?: number;
  ExitCode?: number;
  /**
   * Shoal: the task's health check, when it has one (Docker keeps this on the
   * container, as State.Health). A task with a check is `starting` until
   * its first pass, and fails when it turns unhealthy.
   */
  Health?: { Status: 'starting' | 'healthy' | 'unhealthy'; FailingStreak: number; Output?: string };
}

export interface TaskStatus {
  Timestamp: string;
  State: TaskState;
  Message: string;
  Err?: string;
  ContainerStatus?: ContainerStatus;
  PortStatus?: { Ports?: EndpointPortConfig[] };
}

export interface Task extends Meta {
  Name?: string;
  Labels?: Labels;
  /** A copy of the template the task was made from. */
  Spec: TaskSpec;
  ServiceID: string;
  /** Replicated services: 1..N. Global services: 0 (the node identifies the task). */
  Slot: number;
  /** Empty until the scheduler assigns the task. */
  NodeID: string;
  Status: TaskStatus;
  DesiredState: TaskState;
  /** The service version the task was created from (Docker keeps it as ServiceAnnotations etc.; we need it for updates). */
  SpecVersion?: ObjectVersion;
  /** Shoal: the orchestrator's bookkeeping for this task (see TaskOrchestration). */
  Orchestration?: TaskOrchestration;
  /** A job's task: the job iteration it runs for (the service's JobStatus.JobIteration when it was made). */
  JobIteration?: ObjectVersion;
  /** The task's addresses, one per network (allocated by the store when the task is created). */
  NetworksAttachments?: NetworkAttachment[];
}

/**
 * Shoal: what the orchestrator needs to remember about a task, kept in the
 * task itself so its decisions are a pure function of the store and survive a
 * leader change (SwarmKit keeps restart history and delays in memory and loses
 * them on failover). Written only by the orchestrator; times are the
 * orchestrator's clock in ms since the epoch, never an agent's.
 */
export interface TaskOrchestration {
  /** Why the task was created. */
  Reason: 'create' | 'restart' | 'reschedule' | 'update' | 'rollback';
  CreatedMs: number;
  /** A task created with DesiredState 'ready' is moved to 'running' no earlier than this (restart delay). */
  StartAfterMs?: number;
  /** Restarts of this slot after task exits, under the current spec (for RestartPolicy.MaxAttempts). */
  Restarts?: number;
  /** Times of this slot's recent restarts, oldest first (only kept when RestartPolicy.Window is set). */
  RestartTimesMs?: number[];
  /** When the orchestrator saw the task exit (set with DesiredState 'shutdown'). */
  ExitedMs?: number;
  /** When the orchestrator first saw an update's task running (update Delay and Monitor count from it). */
  RunningSinceMs?: number;
}

// ------------------------------------------------- cluster, secrets, configs

export interface JoinTokens {
  Worker: string;
  Manager: string;
}

export interface SwarmSpec {
  Name: string;
  Labels?: Labels;
  Orchestration?: { TaskHistoryRetentionLimit?: number };
  Raft?: { SnapshotInterval?: number; KeepOldSnapshots?: number; LogEntriesForSlowFollowers?: number; ElectionTick?: number; HeartbeatTick?: number };
  Dispatcher?: { HeartbeatPeriod?: number };
  /** ForceRotate: raising it starts a root CA rotation (what `docker swarm ca --rotate` sends). */
  CAConfig?: { NodeCertExpiry?: number; ForceRotate?: number };
  EncryptionConfig?: { AutoLockManagers?: boolean };
  TaskDefaults?: { LogDriver?: { Name?: string; Options?: Record<string, string> } };
}

/** The swarm itself ("Cluster" in SwarmKit, `GET /swarm` in the API). */
export interface Cluster extends Meta {
  Spec: SwarmSpec;
  JoinTokens: JoinTokens;
  RootRotationInProgress: boolean;
  DefaultAddrPool?: string[];
  SubnetSize?: number;
  DataPathPort?: number;
  /**
   * Shoal: the cluster's root secret, from which join tokens are derived
   * (makeToken). Replicated so any manager can rotate tokens; the API strips
   * it from every response.
   */
  ShoalRootSecret?: string;
  /**
   * Shoal: the cluster's root CA (PEM certificate and PKCS#8 key), held by
   * the managers in Raft so any of them can sign node certificates. The join
   * tokens' first part is its certificate's digest. The API never returns
   * the key. KeyPem is sealed with the cluster data key (`shoal-sealed:v1:…`,
   * bound to the cluster ID) when the founder had one; a PEM in clear is a
   * cluster founded before the data key existed.
   */
  ShoalCA?: { CertPem: string; KeyPem: string };
  /** Shoal: the gossip key nodes send with (base64); never returned by the API. */
  ShoalGossipKey?: string;
  /**
   * Shoal: every gossip key nodes accept, the primary first. Two during a
   * rotation (`rotateGossipKey`): the leader retires the old one once every
   * connected node says it sends with the new one (heartbeats), or after
   * GOSSIP_KEY_MAX_GRACE_MS.
   */
  ShoalGossipKeys?: string[];
  /** Shoal: when the last rotation began (ISO time). */
  ShoalGossipRotatedAt?: string;
  /**
   * Shoal: a root CA rotation in progress (`docker swarm ca --rotate`,
   * manager/membership/ca-rotation.ts): the new root, trusted beside
   * ShoalCA from the start ('trust'), signing node certificates once every
   * node trusts it ('issue'); it replaces ShoalCA once every node holds a
   * certificate it signed. The API never returns the key.
   */
  ShoalCARotation?: { CertPem: string; KeyPem: string; Phase: 'trust' | 'issue'; StartedAt: string };
  /**
   * Shoal: nodes removed from the cluster (`shoal node rm`), with when. Every
   * node refuses them, workers included (they hold no store: the list comes
   * over their session). An entry is kept as long as a certificate issued
   * before the removal could still be valid (membership/deny-list.ts).
   */
  ShoalRemovedNodes?: { ID: string; At: string }[];
}

export interface SecretSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 data, in API requests only: the store keeps it sealed (ShoalData); never returned by the API. */
  Data?: string;
  /** Docker's external secret drivers and templating: refused (400) if set. */
  Driver?: { Name?: string; Options?: Record<string, string> };
  Templating?: { Name?: string; Options?: Record<string, string> };
}

export interface Secret extends Meta {
  Spec: SecretSpec;
  /**
   * Shoal: the data, sealed with the cluster data key (AES-256-GCM, bound to
   * this secret's ID; manager/secrets/data-key.ts). Spec.Data is never stored.
   */
  ShoalData?: string;
}

export interface ConfigSpec {
  Name: string;
  Labels?: Labels;
  /** Base64 data: in requests, and in responses (as Docker returns it); the store keeps it sealed (ShoalData). */
  Data?: string;
  Templating?: { Name?: string; Options?: Record<string, string> };
}

export interface Config extends Meta {
  Spec: ConfigSpec;
  /** Shoal: the data, sealed with the cluster data key, bound to this config's ID. */
  ShoalData?: string;
}

export interface NetworkSpec {
  Name: string;
  Labels?: Labels;
  Driver?: string;
  Scope?: string;
  Attachable?: boolean;
  Internal?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string }[] };
  Options?: Record<string, string>;
  /** The routing mesh's network (only the store creates it: one per cluster). */
  Ingress?: boolean;
}

export interface Network extends Meta {
  Spec: NetworkSpec;
  /** Shoal: what the store allocated for the overlay when the network was created. */
  ShoalOverlay?: { VNI: number; Subnet: string; Gateway: string };
}

/** A task's place on one network (Docker's `Task.NetworksAttachments[]`). */
export interface NetworkAttachment {
  Network: { ID: string; Spec: NetworkSpec };
  /** CIDR form, e.g. "10.0.1.5/24" (Docker's shape). */
  Addresses: string[];
  Aliases?: string[];
}
