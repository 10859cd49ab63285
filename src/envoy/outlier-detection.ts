import type { OutlierDetectionPolicy } from '../model/types.ts';
import { durationMessage } from '../util/duration.ts';
import type { OutlierDetection } from './messages.ts';
import { uint32Value } from './wrappers.ts';

/**
 * Every detector's enforcing_* field is set explicitly: Envoy enables consecutive-5xx and success-rate by
 * default, gRPC clients (gRFC A50) enable success-rate by default and ignore consecutive errors, and both
 * leave failure-percentage off unless enforcing_failure_percentage is set. Explicit fields make both data
 * planes do exactly what the policy says.
 */
export function outlierDetection(policy: OutlierDetectionPolicy): OutlierDetection {
  const result: OutlierDetection = {
    interval: durationMessage(policy.intervalMs),
    base_ejection_time: durationMessage(policy.baseEjectionTimeMs),
    max_ejection_percent: uint32Value(policy.maxEjectionPercent),
    enforcing_consecutive_5xx: uint32Value(policy.consecutiveErrors === undefined ? 0 : 100),
    enforcing_consecutive_gateway_failure: uint32Value(0),
    enforcing_success_rate: uint32Value(policy.successRate ? 100 : 0),
    enforcing_failure_percentage: uint32Value(policy.failurePercentage ? 100 : 0),
  };
  if (policy.consecutiveErrors !== undefined) result.consecutive_5xx = uint32Value(policy.consecutiveErrors);
  if (policy.failurePercentage) {
    result.failure_percentage_threshold = uint32Value(policy.failurePercentage.threshold);
    result.failure_percentage_minimum_hosts = uint32Value(policy.failurePercentage.minimumHosts);
    result.failure_percentage_request_volume = uint32Value(policy.failurePercentage.requestVolume);
  }
  if (policy.successRate) {
    result.success_rate_stdev_factor = uint32Value(policy.successRate.stdevFactor);
    result.success_rate_minimum_hosts = uint32Value(policy.successRate.minimumHosts);
    result.success_rate_request_volume = uint32Value(policy.successRate.requestVolume);
  }
  return result;
}
