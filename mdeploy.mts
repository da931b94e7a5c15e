import { startMotoServer } from './local/cloud/moto.js';
import { deployToMoto } from './local/deploy/moto-deploy.js';

const moto = await startMotoServer();
try {
  const r = await deployToMoto({ endpoint: moto.endpoint, deploy: { stackName: 'WindowpaneMotoTest' } });
  console.log(
    JSON.stringify(
      {
        outputs: Object.keys(r.outputs).sort(),
        accepted: r.acceptedTypes,
        skipped: r.skippedTypes,
        workarounds: r.workarounds,
        resources: r.resources.filter((x) => String(x.resourceType ?? x.type ?? '').includes('IoT')),
      },
      null,
      1,
    ),
  );
} finally {
  await moto.stop();
}
