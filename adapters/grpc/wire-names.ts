// The strings hoop's gateway and agent put on the wire, copied exactly from
// hoop's common/proto (see ../shared/research/hoop-transport.md §1). They are
// protocol, not style: never rename a value, only the keys we use for them.

/** Full gRPC method paths of service protobuf.Transport. */
export const TransportMethod = {
  PreConnect: '/protobuf.Transport/PreConnect',
  Connect: '/protobuf.Transport/Connect',
  HealthCheck: '/protobuf.Transport/HealthCheck',
} as const;

/** Gateway → agent packet types (hoop's pbagent: "Agent*" means "handled by the agent"). */
export const AgentPacket = {
  GatewayConnectOK: 'AgentGatewayConnectOK',
  SessionOpen: 'AgentSessionOpen',
  SessionClose: 'AgentSessionClose',
  ExecWriteStdin: 'AgentExecWriteStdin',
  TerminalWriteStdin: 'AgentTerminalWriteStdin',
  TerminalResizeTTY: 'AgentTerminalResizeTTY',
  TerminalClose: 'AgentTerminalClose',
  /** Word order differs from every other TCP type: "Close" before "TCPConnection". */
  TCPConnectionClose: 'AgentCloseTCPConnection',
  TCPConnectionWrite: 'AgentTCPConnectionWrite',
  PGConnectionWrite: 'AgentPGConnectionWrite',
  MySQLConnectionWrite: 'AgentMySQLConnectionWrite',
  MSSQLConnectionWrite: 'AgentMSSQLConnectionWrite',
  MongoDBConnectionWrite: 'AgentMongoDBConnectionWrite',
  OracleConnectionWrite: 'AgentOracleConnectionWrite',
  SSHConnectionWrite: 'AgentSSHConnectionWrite',
  SSMConnectionWrite: 'AgentSSMConnectionWrite',
  HttpProxyConnectionWrite: 'AgentHttpProxyConnectionWrite',
  MCPProxyConnectionWrite: 'AgentMCPProxyConnectionWrite',
  MCPStdioReply: 'AgentMCPStdioReply',
} as const;

/** Agent → gateway (→ client) packet types (hoop's pbclient). Some are only ever sent by the gateway. */
export const ClientPacket = {
  SessionOpenOK: 'ClientSessionOpenOK',
  SessionOpenTimeout: 'ClientSessionOpenTimeout',
  SessionOpenWaitingApproval: 'ClientSessionOpenWaitingApproval',
  SessionOpenApproveOK: 'ClientSessionOpenApproveOK',
  SessionOpenAgentOffline: 'ClientSessionOpenAgentOffline',
  SessionClose: 'ClientSessionClose',
  InteractionClose: 'ClientInteractionClose',
  SessionAnalyzerMetrics: 'ClientSessionAnalyzerMetrics',
  AgentLogs: 'ClientAgentLogs',
  ProxyManagerConnectOK: 'ClientProxyManagerConnectOK',
  TCPConnectionClose: 'ClientTCPConnectionClose',
  TCPConnectionWrite: 'ClientTCPConnectionWrite',
  PGConnectionWrite: 'ClientPGConnectionWrite',
  MySQLConnectionWrite: 'ClientMySQLConnectionWrite',
  MSSQLConnectionWrite: 'ClientMSSQLConnectionWrite',
  MongoDBConnectionWrite: 'ClientMongoDBConnectionWrite',
  OracleConnectionWrite: 'ClientOracleConnectionWrite',
  SSHConnectionWrite: 'ClientSSHConnectionWrite',
  SSMConnectionWrite: 'ClientSSMConnectionWrite',
  WriteStdout: 'ClientWriteStdout',
  WriteStderr: 'ClientWriteStderr',
  HttpProxyConnectionWrite: 'ClientHttpProxyConnectionWrite',
  MCPProxyConnectionWrite: 'ClientMCPProxyConnectionWrite',
  MCPStdioRequest: 'ClientMCPStdioRequest',
  MCPStdioClose: 'ClientMCPStdioClose',
} as const;

/** Gateway-level types (hoop's pbgateway). */
export const GatewayPacket = {
  /** Agent → gateway every 10 s; the gateway ignores its content. */
  KeepAlive: 'GatewayKeepAlive',
  /** The pre-"Gateway" name of the keep-alive, still accepted by the gateway. */
  LegacyKeepAlive: 'KeepAlive',
  ProxyManagerConnectOKAck: 'GatewayProxyManagerConnectOKAck',
  /** Gateway → agent after AgentGatewayConnectOK and on change; spec `feature-flags` is JSON map[string]bool. */
  FeatureFlagUpdate: 'GatewayFeatureFlagUpdate',
} as const;

/**
 * System requests (gateway → agent) and their responses (agent → gateway),
 * JSON payloads. The gateway routes every agent packet whose type starts with
 * `Sys` to its system dispatcher. The runbook pair really ends in "Type".
 */
export const SystemPacket = {
  ProvisionDBRolesRequest: 'SysProvisionDBRolesRequest',
  ProvisionDBRolesResponse: 'SysProvisionDBRolesResponse',
  RunbookHookRequest: 'SysRunbookHookRequestType',
  RunbookHookResponse: 'SysRunbookHookResponseType',
  BareExecRequest: 'SysBareExecRequest',
  BareExecResponse: 'SysBareExecResponse',
  PgManagerPlanRequest: 'SysPgManagerPlanRequest',
  PgManagerPlanResponse: 'SysPgManagerPlanResponse',
  PgManagerApplyRequest: 'SysPgManagerApplyRequest',
  PgManagerApplyResponse: 'SysPgManagerApplyResponse',
} as const;

export const SYSTEM_PACKET_PREFIX = 'Sys';

/** Keys of Packet.spec (hoop's common/proto/const.go and spectypes). */
export const SpecKey = {
  /** Every agent → gateway packet except keep-alives and agent logs must carry it. */
  GatewaySessionID: 'gateway.session_id',
  ConnectionName: 'gateway.connection_name',
  ConnectionType: 'gateway.connection_type',
  ConnectionCommand: 'gateway.connection_command',
  HasReview: 'gateway.has_review',
  PluginDcmData: 'plugin.dcm_data',
  /** Per-session sub-connection counter "1", "2", ... chosen by the client. */
  ClientConnectionID: 'client.connection_id',
  /** ASCII int; "254" means internal error. */
  ClientExitCode: 'client.exit_code',
  ClientGuardRailsInfo: 'client.guardrails_info',
  ClientRequestPort: 'client.request_port',
  ClientSSHHostKey: 'client.ssh_host_key',
  ClientExecCommand: 'client.command',
  /** gob []string. */
  ClientExecArgs: 'terminal.args',
  /** gob map[string]string. */
  ClientExecEnvVars: 'terminal.envvars',
  AgentVersion: 'agent.version',
  /** gob AgentConnectionParams. */
  AgentConnectionParams: 'agent.connection_params',
  /** Deprecated: still sent to agents older than 1.35.11. */
  AgentDlpProvider: 'agent.dlp_provider',
  AgentMSPresidioAnalyzerURL: 'agent.mspresidio_analyzer_url',
  AgentMSPresidioAnonymizerURL: 'agent.mspresidio_anonymizer_url',
  AgentGCPRawCredentials: 'agent.gcp_credentials',
  AwsSSMWebsocketMsgType: 'aws.websocket.message_type',
  AwsSSMEc2InstanceId: 'aws.ssm.ec2.instance_id',
  HttpProxyBaseUrl: 'httpproxy.base_url',
  HttpProxyRequestID: 'httpproxy.request_id',
  /** JSON map[string]bool. */
  FeatureFlags: 'feature-flags',
  /** Dial upstream but do not write the payload (server-first protocols such as MySQL). */
  TCPServerConnect: 'tcp.server_connect',
  ReviewData: 'review.data',
  GatewayReviewID: 'review.id',
  GatewayJitID: 'jit.id',
  JitStatus: 'jit.status',
  JitTimeout: 'jit.timeout',
  MCPEvent: 'mcp.event',
  MCPStdioBackend: 'mcp.stdio_backend',
  MCPStdioRequestID: 'mcp.stdio_request_id',
  MCPStdioError: 'mcp.stdio_error',
  MCPStdioCommand: 'mcp.stdio_command',
  MCPStdioEnv: 'mcp.stdio_env',
  /** msgpack. */
  DataMaskingInfo: 'datamasking.info',
  /** msgpack. */
  AIAnalyzerInfo: 'aianalyzer.info',
} as const;

/** gRPC metadata keys of the Connect call (hoop's common/grpc/client.go). */
export const ConnectMetadata = {
  Authorization: 'authorization',
  /** Required: without it the gateway answers InvalidArgument "missing client origin". */
  Origin: 'origin',
  Version: 'version',
  GoVersion: 'go-version',
  Compiler: 'compiler',
  Platform: 'platform',
  Hostname: 'hostname',
  MachineID: 'machine-id',
  KernelVersion: 'kernel-version',
  /** Only for `hoop run` and multi-connection agents. */
  ConnectionName: 'connection-name',
} as const;

/** Values of the `origin` metadata and of AgentConnectionParams.ClientOrigin. */
export const ConnectionOrigin = {
  Agent: 'agent',
  Client: 'client',
  ClientProxyManager: 'client-proxymanager',
  ClientAPI: 'client-api',
  ClientAPIRunbooks: 'client-api-runbooks',
} as const;

export const PreConnectStatus = {
  Connect: 'CONNECT',
  Backoff: 'BACKOFF',
} as const;

type ValueOf<T> = T[keyof T];
export type AgentPacketType = ValueOf<typeof AgentPacket>;
export type ClientPacketType = ValueOf<typeof ClientPacket>;
export type GatewayPacketType = ValueOf<typeof GatewayPacket>;
export type SystemPacketType = ValueOf<typeof SystemPacket>;
export type PacketType = AgentPacketType | ClientPacketType | GatewayPacketType | SystemPacketType;
export type SpecKeyName = ValueOf<typeof SpecKey>;
