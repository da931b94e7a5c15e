/**
 * The names windowpane's functions publish under, shared by the functions and the CDK
 * stack. Free of runtime dependencies, so infra can import it without the handler.
 */

/** CloudWatch namespace of the functions' EMF metrics. */
export const METRICS_NAMESPACE = 'Windowpane';
/** Powertools service name (the `service` dimension and log field). */
export const SERVICE_NAME = 'windowpane';
