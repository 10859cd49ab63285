import type { OutlierDetectionPolicy } from '../model/types.ts';
import { durationJson } from '../util/duration.ts';

type Json = Record<string, unknown>;

/**
 * Every detector's enforcing_* field is set explicitly: Envoy enables consecutive-5xx and success-rate by
 * default, gRPC clients (gRFC A50) enable success-rate by default and ignore consecutive errors, and both
 * leave failure-percentage off unless enforcing_failure_percentage is set. Explicit fields make both data
 * planes do exactly what the policy says.
 */
export function outlierDetection(policy: OutlierDetectionPolicy): Json {
  const result: Json = {
    interval: durationJson(policy.intervalMs),
    base_ejection_time: durationJson(policy.baseEjectionTimeMs),
    max_ejection_percent: policy.maxEjectionPercent,
    enforcing_consecutive_5xx: policy.consecutiveErrors === undefined ? 0 : 100,
    enforcing_consecutive_gateway_failure: 0,
    enforcing_success_rate: policy.successRate ? 100 : 0,
    enforcing_failure_percentage: policy.failurePercentage ? 100 : 0,
  };
  if (policy.consecutiveErrors !== undefined) result['consecutive_5xx'] = policy.consecutiveErrors;
  if (policy.failurePercentage) {
    result['failure_percentage_threshold'] = policy.failurePercentage.threshold;
    result['failure_percentage_minimum_hosts'] = policy.failurePercentage.minimumHosts;
    result['failure_percentage_request_volume'] = policy.failurePercentage.requestVolume;
  }
  if (policy.successRate) {
    result['success_rate_stdev_factor'] = policy.successRate.stdevFactor;
    result['success_rate_minimum_hosts'] = policy.successRate.minimumHosts;
    result['success_rate_request_volume'] = policy.successRate.requestVolume;
  }
  return result;
}
