// Workload identity and secrets: an app's cloud identity through workload identity
// (Azure first), and the secrets it mounts from a cloud secret store through the
// Secrets Store CSI driver with that identity.
//
// An app with identity.azure gets the azure.workload.identity/client-id annotation on
// its ServiceAccount and the azure.workload.identity/use label on its pods. Azure
// Workload Identity's mutating webhook then projects a short-lived token for the
// ServiceAccount (audience api://AzureADTokenExchange) into the pod as a volume of its
// own, with AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and
// AZURE_FEDERATED_TOKEN_FILE; automountServiceAccountToken stays false, so the pod
// still holds no Kubernetes API token. The app may reach the Entra ID authority host
// on 443 (network.libsonnet renders it like any host egress).
//
// Each of an app's secrets is a SecretProviderClass <app>-<name> in the app's file
// (applied as the team: the team's reconciler may manage them), mounted read-only as
// a csi volume, a type the restricted Pod Security level allows. The CSI driver reads
// the objects when a pod starts, with the pod's own token, so no credential of the
// vault is ever rendered or committed.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';

local get = k.get;

local azure(app) = get(get(app, 'identity', {}), 'azure', null);

local secrets(app) = get(app, 'secrets', []);

// fileName is the file an object is mounted as (and its key in the synced Secret).
local fileName(o) = get(o, 'alias', o.name);

// quote writes a YAML double-quoted scalar (JSON's string syntax is YAML's): the
// objects parameter is YAML the provider parses, and a name such as "true" or "1e3"
// must stay a string.
local quote(s) = std.escapeStringJson(s);

// objectsParameter is the azure provider's objects parameter: a YAML document whose
// array holds one YAML document per object.
local objectsParameter(kv) =
  'array:\n' + std.join('', [
    '  - |\n' +
    '    objectName: ' + quote(o.name) + '\n' +
    '    objectType: ' + quote(get(o, 'type', 'secret')) + '\n' +
    (if get(o, 'version', '') != '' then '    objectVersion: ' + quote(o.version) + '\n' else '') +
    (if get(o, 'alias', '') != '' then '    objectAlias: ' + quote(o.alias) + '\n' else '')
    for o in kv.objects
  ]);

{
  // The CSI driver's name and the SecretProviderClass's API.
  csiDriver:: 'secrets-store.csi.k8s.io',
  apiVersion:: 'secrets-store.csi.x-k8s.io/v1',

  // serviceAccountAnnotations and podLabels are what Azure Workload Identity's webhook
  // looks for.
  serviceAccountAnnotations(app)::
    if azure(app) == null then {} else { 'azure.workload.identity/client-id': azure(app).clientID },
  podLabels(app):: if azure(app) == null then {} else { 'azure.workload.identity/use': 'true' },

  // egress is the host egress an app's identity needs: its token exchange.
  egress(app)::
    if azure(app) == null then [] else [{ host: d.identity.azure.authorityHost, ports: [{ port: 443 }] }],

  className(app, s):: app.name + '-' + s.name,
  volumeName(s):: 'secrets-' + s.name,

  volumes(app):: [
    {
      name: $.volumeName(s),
      csi: {
        driver: $.csiDriver,
        readOnly: true,
        volumeAttributes: { secretProviderClass: $.className(app, s) },
      },
    }
    for s in secrets(app)
  ],

  volumeMounts(app):: [
    { name: $.volumeName(s), mountPath: s.mountPath, readOnly: true }
    for s in secrets(app)
  ],

  secretProviderClass(team, app, s)::
    local ns = team.metadata.name;
    local kv = s.azureKeyVault;
    k.object($.apiVersion, 'SecretProviderClass', $.className(app, s), ns, k.labels(ns, app.name)) {
      spec: {
        provider: 'azure',
        parameters: {
          usePodIdentity: 'false',
          useVMManagedIdentity: 'false',
          clientID: azure(app).clientID,
          keyvaultName: kv.vaultName,
          tenantId: kv.tenantID,
          objects: objectsParameter(kv),
        },
        [if get(s, 'syncSecret', '') != '' then 'secretObjects']: [{
          secretName: s.syncSecret,
          type: 'Opaque',
          labels: k.labels(ns, app.name),
          data: [{ objectName: fileName(o), key: fileName(o) } for o in kv.objects],
        }],
      },
    },

  tenantRules:: [
    { apiGroups: ['secrets-store.csi.x-k8s.io'], resources: ['secretproviderclasses'] },
  ],

  objects(team, cluster, intents):: {
    tenant: [],
    files: {
      [app.name + '.yaml']: [$.secretProviderClass(team, app, s) for s in secrets(app)]
      for app in team.spec.apps
      if std.length(secrets(app)) > 0
    },
  },

  platform(cluster, teams):: {},
}
