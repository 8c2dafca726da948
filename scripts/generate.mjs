// Copies the third-party protos we import from their npm packages into third_party/
// (git-ignored), then runs `buf generate` into gen/.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";

const require = createRequire(import.meta.url);
const root = join(dirname(new URL(import.meta.url).pathname), "..");
const thirdParty = join(root, "third_party");
const googleProtos = dirname(require.resolve("google-proto-files/package.json"));
const reflectionProtos = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
const healthProtos = join(dirname(require.resolve("grpc-health-check/package.json")), "proto");

const files = [
  [googleProtos, "google/api/annotations.proto"],
  [googleProtos, "google/api/http.proto"],
  [googleProtos, "google/api/httpbody.proto"],
  [googleProtos, "google/rpc/error_details.proto"],
  [reflectionProtos, "grpc/reflection/v1/reflection.proto"],
  [reflectionProtos, "grpc/reflection/v1alpha/reflection.proto"],
  [healthProtos, "health/v1/health.proto", "grpc/health/v1/health.proto"],
];

rmSync(thirdParty, { recursive: true, force: true });
// [package folder, path in the package, path under third_party/ when it differs (the import path)]
for (const [from, file, to = file] of files) {
  mkdirSync(dirname(join(thirdParty, to)), { recursive: true });
  cpSync(join(from, file), join(thirdParty, to));
}
execFileSync(join(root, "node_modules", ".bin", "buf"), ["generate"], { cwd: root, stdio: "inherit" });
