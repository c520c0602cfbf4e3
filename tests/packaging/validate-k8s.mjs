// Validate Kubernetes manifests against the API schemas (the npm packages
// kubernetes-models and @kubernetes-models/prometheus-operator, generated from the
// Kubernetes OpenAPI). Usage: node validate-k8s.mjs FILE, FILE a JSON array of objects.
// Prints one JSON line per object: {kind, name, error}; error null when valid. Exits 0
// when every object is valid, 1 otherwise, 2 on bad usage.
import { readFileSync } from 'node:fs';

const PACKAGES = {
    'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
};

// The model class of @apiVersion / @kind, or an Error naming what is unknown.
async function model(apiVersion, kind) {
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Za-z]+$/.test(kind))
        return new Error(`no apiVersion/kind: ${apiVersion}/${kind}`);
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    const pkg = PACKAGES[group] || 'kubernetes-models';
    try {
        const mod = await import(`${pkg}/${apiVersion}/${kind}`);
        return mod[kind] || new Error(`${pkg}/${apiVersion} has no ${kind}`);
    } catch (e) {
        return new Error(`unknown kind ${apiVersion}/${kind}: ${e.message}`);
    }
}

if (process.argv.length !== 3) {
    process.stderr.write('usage: node validate-k8s.mjs FILE.json\n');
    process.exit(2);
}
const docs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
let bad = 0;
for (const doc of docs) {
    const Cls = await model(doc.apiVersion, doc.kind);
    let error = null;
    if (Cls instanceof Error) {
        error = Cls.message;
    } else {
        try {
            new Cls(doc).validate();
        } catch (e) {
            error = e.message + (e.errors ? ' ' + JSON.stringify(e.errors) : '');
        }
    }
    if (error)
        bad++;
    process.stdout.write(JSON.stringify({ kind: doc.kind, name: doc.metadata && doc.metadata.name, error }) + '\n');
}
process.exit(bad ? 1 : 0);
