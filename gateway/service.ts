// protobuf.Transport as a grpc-js service definition, on the same hand codec
// the agent uses (adapters/grpc/packet-codec.ts), so the development gateway
// speaks exactly the bytes hoop's gateway does.
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  decodeEmpty,
  decodeHealthCheckResponse,
  decodePacket,
  decodePreConnectRequest,
  decodePreConnectResponse,
  encodeEmpty,
  encodeHealthCheckResponse,
  encodePacket,
  encodePreConnectRequest,
  encodePreConnectResponse,
  type HealthCheckResponse,
  type Packet,
  type PreConnectRequest,
  type PreConnectResponse,
} from '../adapters/grpc/packet-codec.js';
import { TransportMethod } from '../adapters/grpc/wire-names.js';

export const transportService = {
  Connect: {
    path: TransportMethod.Connect,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodePacket,
    requestDeserialize: decodePacket,
    responseSerialize: encodePacket,
    responseDeserialize: decodePacket,
    originalName: 'connect',
  },
  PreConnect: {
    path: TransportMethod.PreConnect,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodePreConnectRequest,
    requestDeserialize: decodePreConnectRequest,
    responseSerialize: encodePreConnectResponse,
    responseDeserialize: decodePreConnectResponse,
    originalName: 'preConnect',
  },
  HealthCheck: {
    path: TransportMethod.HealthCheck,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeEmpty,
    requestDeserialize: decodeEmpty,
    responseSerialize: encodeHealthCheckResponse,
    responseDeserialize: decodeHealthCheckResponse,
    originalName: 'healthCheck',
  },
} satisfies ServiceDefinition;

export type { HealthCheckResponse, Packet, PreConnectRequest, PreConnectResponse };
