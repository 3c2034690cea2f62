// Drives an unmodified zigbee-herdsman (ember adapter) against the emulated stick over tcp://.
// Usage: node herdsman_driver.js <herdsman package dir> <tcp://host:port> <work dir> [OTA file] [touchlink]
// With RESTORE=1 in the environment it restores the work dir's backup onto a blank stick instead (restore()).
// Prints one JSON line per step: {"step": ..., "ok": true|false, ...}; exits 0 when every step passed.
"use strict";
const path = require("node:path");

const [herdsmanDir, port, workDir, otaFile, touchlink] = process.argv.slice(2);
const {Controller, setLogger} = require(herdsmanDir);

const logs = [];
const keep = (level) => (msg, ns) => {
    const text = typeof msg === "function" ? msg() : msg;
    logs.push(`${level} ${ns}: ${text}`);
    if (logs.length > 400) logs.shift();
};
setLogger({debug: keep("debug"), info: keep("info"), warning: keep("warning"), error: keep("error")});

const report = (step, ok, extra = {}) => console.log(JSON.stringify({step, ok, ...extra}));

function makeController() {
    return new Controller({
        network: {
            panID: 0x1a62,
            extendedPanID: [0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd, 0xdd],
            channelList: [15],
            networkKey: [1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4, 6, 8, 10, 12, 13],
        },
        transport: {path: port, adapter: "ember"},
        databasePath: path.join(workDir, "database.db"),
        databaseBackupPath: path.join(workDir, "database.db.backup"),
        backupPath: path.join(workDir, "coordinator_backup.json"),
        adapter: {disableLED: false, concurrent: 8},
        acceptJoiningDeviceHandler: async () => true,
    });
}

function within(ms, what, promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function step(name, fn, ms = 20000) {
    const t0 = Date.now();
    try {
        const detail = await within(ms, name, fn());
        report(name, true, {seconds: (Date.now() - t0) / 1000, ...(detail || {})});
    } catch (err) {
        report(name, false, {seconds: (Date.now() - t0) / 1000, error: String(err && err.stack || err),
                             log: logs.slice(-40)});
        throw err;
    }
}

const T0 = Date.now();
const since = () => (Date.now() - T0) / 1000; // events fire while an earlier step runs: say when

async function main() {
    let controller = makeController();
    let joinedAt, interviewedAt;
    const interviewed = new Promise((resolve, reject) => {
        controller.on("deviceInterview", (e) => {
            if (e.status === "successful") { interviewedAt = since(); resolve(e.device); }
            if (e.status === "failed") reject(new Error(`interview of ${e.device.ieeeAddr} failed`));
        });
    });
    const joined = new Promise((resolve) => controller.on("deviceJoined", (e) => { joinedAt = since(); resolve(e.device); }));
    let device;

    await step("start", async () => ({result: await controller.start(), doneAt: since()}), 30000);
    await step("form", async () => {
        const info = await controller.getNetworkParameters();
        if (info.panID !== 0x1a62 || info.channel !== 15) throw new Error(`formed ${JSON.stringify(info)}`);
        return {panID: info.panID, channel: info.channel, extendedPanID: String(info.extendedPanID)};
    });
    await step("permit", async () => {
        await controller.permitJoin(120);
        return {permitted: controller.getPermitJoin()};
    });
    await step("join", async () => {
        device = await joined;
        return {ieee: device.ieeeAddr, nwk: device.networkAddress, eventAt: joinedAt};
    });
    await step("interview", async () => {
        device = await interviewed;
        return {model: device.modelID, manufacturer: device.manufacturerName, type: device.type,
                eventAt: interviewedAt};
    }, 40000);
    await step("read Basic", async () => {
        const endpoint = device.endpoints.find((ep) => ep.supportsInputCluster("genBasic"));
        if (!endpoint) throw new Error("no endpoint with genBasic");
        const attrs = await endpoint.read("genBasic", ["manufacturerName", "modelId"]);
        if (!attrs.manufacturerName || !attrs.modelId) throw new Error(`read ${JSON.stringify(attrs)}`);
        return {endpoint: endpoint.ID, manufacturerName: attrs.manufacturerName, modelId: attrs.modelId};
    });
    if (otaFile) {
        await step("ota", async () => {
            let percent = 0;
            const [from, to] = await device.updateOta(
                {url: otaFile}, undefined, undefined, {}, (p) => { percent = p; },
                {requestTimeout: 60000, responseDelay: 0, baseSize: 50},
            );
            if (!to || to.fileVersion <= from.fileVersion) throw new Error(`no upgrade: ${JSON.stringify([from, to])}`);
            return {from: from.fileVersion, to: to.fileVersion, progress: percent};
        }, 60000);
    }
    if (touchlink === "touchlink") {
        // inter-PAN: a scan request on each of 16 channels (setLogicalAndRadioChannel + raw frame), then
        // the network's channel back; no emulated device is a touchlink target, so nothing answers
        await step("touchlink scan", async () => {
            const found = await controller.touchlink.scan();
            if (found.length !== 0) throw new Error(`touchlink scan found ${JSON.stringify(found)}`);
            const info = await controller.getNetworkParameters();
            return {found: found.length, channelAfter: info.channel};
        }, 40000);
        await step("read after scan", async () => {
            const attrs = await device.endpoints.find((ep) => ep.supportsInputCluster("genBasic"))
                .read("genBasic", ["modelId"]);
            return {modelId: attrs.modelId};
        });
    }
    await step("stop", async () => {
        await controller.permitJoin(0);
        await controller.stop();
    });
    controller = makeController();
    await step("restart", async () => {
        const result = await controller.start();
        if (result !== "resumed") throw new Error(`start after stop gave '${result}', not 'resumed'`);
        const known = controller.getDeviceByIeeeAddr(device.ieeeAddr);
        if (!known) throw new Error("the joined device is gone from herdsman's database");
        return {result, device: known.ieeeAddr};
    }, 30000);
    await step("stop again", async () => controller.stop());
}

// RESTORE=1: the stick is a blank one and the work dir holds herdsman's backup of the network: herdsman
// must form it again from the backup (keys, frame counter, PAN, channel) and resume its devices.
async function restore() {
    const controller = makeController();
    await step("restore start", async () => {
        const result = await controller.start();
        if (result !== "restored") throw new Error(`start on a blank stick gave '${result}', not 'restored'`);
        const info = await controller.getNetworkParameters();
        return {result, panID: info.panID, channel: info.channel, devices: controller.getDevices().length};
    }, 30000);
    await step("restore stop", async () => controller.stop());
}

(process.env.RESTORE === "1" ? restore() : main()).then(
    () => process.exit(0),
    () => process.exit(1),
);
