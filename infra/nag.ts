/**
 * cdk-nag (v3) wiring. The AwsSolutions pack runs as a CDK validation plugin: any finding
 * that is not acknowledged fails `cdk synth` (and `cdk deploy`). Acknowledgements are made
 * next to the resource they concern, each with the reason it is acceptable, through
 * `acknowledge` below (cdk-nag v3 replaced `NagSuppressions` with `Validations.acknowledge`).
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

export interface NagAcknowledgement {
  /** Rule id, with the finding in brackets where the rule reports several (`AwsSolutions-IAM5[Action::x]`). */
  id: string;
  reason: string;
}

export function attachNag(app: App): AwsSolutionsChecks {
  const pack = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(pack);
  return pack;
}

/** Acknowledges findings on `scope` (and its children), each with its written reason. */
export function acknowledge(scope: IConstruct, ...acks: NagAcknowledgement[]): void {
  for (const ack of acks) {
    if (ack.reason.trim().length < 20) {
      throw new Error(`nag acknowledgement ${ack.id} on ${scope.node.path} needs a real reason`);
    }
  }
  Validations.of(scope).acknowledge(...acks);
}
