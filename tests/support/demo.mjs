// The demo (demo/run.mjs) as the tests run it: its services on free ports and the built Worker with
// demo/config.json, its base_urls pointed at those ports, and the demo's variables.
import { startGateway } from "./gateway.mjs";
import { startPi, startClassifier } from "../../demo/services.mjs";
import { config, DEMO_VARS } from "../../demo/run.mjs";

/** Starts the demo; `readings` (optional) fixes what the Pi's /system answers, for screenshots.
 *  Returns `{ gateway, pi, classifier, token, close }`. */
export async function startDemo({ readings } = {}) {
  const pi = await startPi({ apiKey: DEMO_VARS.PI_KEY, readings });
  const classifier = await startClassifier();
  const urls = { livingroom: pi.url, catsdogs: classifier.url };
  const services = config.extensions.rest.services.map((service) => ({ ...service, base_url: urls[service.name] }));
  const gateway = await startGateway({
    config: { ...config, extensions: { rest: { ...config.extensions.rest, services } } },
    vars: DEMO_VARS,
  });
  return {
    gateway, pi, classifier, token: DEMO_VARS.AUTH_TOKEN,
    close: () => Promise.all([gateway.close(), pi.close(), classifier.close()]),
  };
}
