// dstack apps: app-compose.json's normalized bytes against dstack's SDK (Python's json.dumps as
// get_compose_hash.py calls it), the compose file's in-place pinning, RTMR3's app events against a
// record, and the example app (examples/dstack-app) built twice, signed, rebuilt and verified
// against a dstack quote whose RTMR3 events an independent Python computation made for it.
#include "test_support.hpp"

#include <builder/app/app_recipe.hpp>
#include <builder/audit/artifact_diff.hpp>
#include <builder/system/store.hpp>

#include <measure/documents/dstack_app.hpp>
#include <measure/dstack/app_rtmr3.hpp>
#include <measure/util/hash.hpp>
#include <measure/verify/dstack_app_check.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::test;

namespace {

constexpr const char *k_python = "/usr/bin/python3";

// The normalization of dstack's Python SDK (get_compose_hash.py to_deterministic_json with
// sort_object), run by Python on the file given: its bytes, printed as hex.
std::string python_normalized(const std::string &json_file) {
  REQUIRE(fs::exists(k_python));
  std::string hex = sh(std::string(k_python) + " -c " +
                       shell_quote("import json,sys\n"
                                   "d=json.load(open(sys.argv[1],encoding='utf-8'))\n"
                                   "s=json.dumps(d,sort_keys=True,separators=(',',':'),ensure_ascii=False)\n"
                                   "print(s.encode('utf-8').hex())\n") +
                       " " + shell_quote(json_file));
  while (!hex.empty() && hex.back() == '\n') hex.pop_back();
  Bytes b = from_hex(hex, "python");
  return std::string(b.begin(), b.end());
}

std::string sha256_of_file(const std::string &path) {
  Bytes b = read(path);
  return to_hex(sha256(ByteView(b.data(), b.size())));
}

LoggedEvent runtime_event(size_t index, const std::string &name, const Bytes &payload) {
  LoggedEvent e;
  e.index = index;
  e.reg = Register::rtmr3;
  e.type = k_dstack_runtime_event_type;
  e.name = name;
  e.data = payload;
  e.digest = dstack_runtime_event_digest(e.type, name, ByteView(payload.data(), payload.size()));
  return e;
}

Bytes text_bytes(const std::string &s) { return Bytes(s.begin(), s.end()); }

// The guest's RTMR3 events (system_setup.rs order) for an app id and compose hash.
EventLog app_log(const Bytes &app_id, const Bytes &compose_hash) {
  EventLog log;
  size_t i = 0;
  log.events.push_back(runtime_event(i++, "system-preparing", {}));
  log.events.push_back(runtime_event(i++, "app-id", app_id));
  log.events.push_back(runtime_event(i++, "compose-hash", compose_hash));
  log.events.push_back(runtime_event(i++, "instance-id", Bytes(20, 0x5a)));
  log.events.push_back(runtime_event(i++, "boot-mr-done", {}));
  log.events.push_back(runtime_event(i++, "key-provider", text_bytes("{\"name\":\"kms\",\"id\":\"30\"}")));
  log.events.push_back(runtime_event(i++, "system-ready", {}));
  log.events.push_back(runtime_event(i++, "MY_APP_EVENT", text_bytes("hello")));
  return log;
}

} // namespace

TEST_CASE("app-compose.json's bytes are dstack's SDK normalization, and its sha256 the compose hash", "[dstack_app]") {
  // dstack sdk/python/tests/test_get_compose_hash.py test_cross_language_compatibility: the JS and
  // Python SDKs give sha256 551c5fc7... for this object (computed with dstack's own code at 312dc605).
  nlohmann::json sdk = {{"manifest_version", 1},       {"name", "test-app"},
                        {"runner", "docker-compose"},  {"docker_compose_file", "docker-compose.yml"},
                        {"kms_enabled", false},        {"public_logs", true},
                        {"allowed_envs", {"NODE_ENV"}}};
  std::string bytes = normalized_app_compose(sdk, "sdk");
  CHECK(compose_hash_of(ByteView::of(bytes)) == "551c5fc76bfeecfafc5e70ad1f5b0656ac3c2906bf4172371d956e0e70739a0b");
  CHECK(app_id_of_compose_hash(compose_hash_of(ByteView::of(bytes))) == "551c5fc76bfeecfafc5e70ad1f5b0656ac3c2906");

  // Non-ASCII text, control characters, quotes, nesting and integers: Python's bytes, byte for byte.
  TempDir work("app-compose");
  nlohmann::json rich = {
      {"name", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x9a\x80"},
      {"docker_compose_file", "services:\n  a:\n    image: \"x\" # \\ \t\x01\x7f </script> && 1 > 0\r\n"},
      {"zeta", {{"b", 2}, {"a", {1, -3, 18446744073709551615ull}}, {"A", nlohmann::json::object()}}},
      {"allowed_envs", nlohmann::json::array()},
      {"public_tcbinfo", true}};
  write_text(work / "rich.json", rich.dump(4, ' ', false)); // another layout than the normal form
  CHECK(normalized_app_compose(rich, "rich") == python_normalized(work / "rich.json"));

  CHECK_THAT(error_message([] {
               normalized_app_compose({{"pre_launch_script", nullptr}}, "x");
             }),
             Catch::Contains("x.pre_launch_script: is null"));
  CHECK_THAT(error_message([] {
               normalized_app_compose({{"swap", {{"size", 1.0}}}}, "x");
             }),
             Catch::Contains("x.swap.size: is a floating-point number"));
  CHECK_THAT(error_message([] {
               normalized_app_compose({{"n\xc3\xa9", 1}}, "x");
             }),
             Catch::Contains("not printable ASCII"));
  CHECK_THAT(error_message([] { normalized_app_compose({{"name", "\xff"}}, "x"); }), Catch::Contains("not UTF-8"));
}

TEST_CASE("compose files: each service's image is found, YAML that could hide one is refused", "[dstack_app]") {
  auto images = compose_service_images("services:\n  b:\n    image: x:1\n  a: {image: 'y:2', ports: [1]}\n", "c.yaml");
  REQUIRE(images.size() == 2);
  CHECK(images[0] == std::make_pair(std::string("b"), std::string("x:1")));
  CHECK(images[1] == std::make_pair(std::string("a"), std::string("y:2")));
  CHECK_THAT(error_message([] { compose_service_images("x-c: &c {image: a}\nservices:\n  s: *c\n", "c.yaml"); }),
             Catch::Contains("c.yaml:1:") && Catch::Contains("anchors"));
  CHECK_THAT(error_message([] { compose_service_images("services:\n  s:\n    build: .\n", "c.yaml"); }),
             Catch::Contains("c.yaml:3:5") && Catch::Contains("service 's' has no `image`"));
  CHECK_THAT(error_message([] { compose_service_images("services:\n  s:\n    image: a\n    image: b\n", "c.yaml"); }),
             Catch::Contains("c.yaml:4:5") && Catch::Contains("`image` appears twice"));
  CHECK_THAT(error_message([] { compose_service_images("volumes: {}\n", "c.yaml"); }),
             Catch::Contains("no `services` mapping"));
  CHECK_THAT(error_message([] { compose_service_images("services:\n  s:\n    image: [a]\n", "c.yaml"); }),
             Catch::Contains("c.yaml:3:12") && Catch::Contains("non-empty string"));
}

TEST_CASE("The example app's compose file is pinned in place: only the image references change", "[dstack_app]") {
  builder::AppRecipe app = builder::load_app_recipe(source_path("examples/dstack-app/app.yaml"));
  REQUIRE(app.services.size() == 2);
  CHECK(app.services[0].name == "hello");
  CHECK(app.services[0].image_ref == "mrforge/hello:1.0");
  CHECK(app.services[1].name == "worker");
  CHECK(app.services[1].image_ref == "mrforge/worker:1.0");
  CHECK(app.settings.key_provider == "kms");
  const std::string d1 = "sha256:" + std::string(64, 'a'), d2 = "sha256:" + std::string(64, 'b');
  std::string pinned = builder::pin_compose_images(app, {{"hello", d1}, {"worker", d2}});
  std::string expected = read_text(source_path("examples/dstack-app/docker-compose.yaml"));
  size_t a = expected.find("image: mrforge/hello:1.0\n");
  REQUIRE(a != std::string::npos);
  expected.insert(a + std::string("image: mrforge/hello:1.0").size(), "@" + d1);
  size_t b = expected.find("image: \"mrforge/worker:1.0\"");
  REQUIRE(b != std::string::npos);
  expected.insert(b + std::string("image: \"mrforge/worker:1.0").size(), "@" + d2);
  CHECK(pinned == expected);

  // An image written as a block scalar cannot be rewritten in place: refused, naming the line.
  builder::AppRecipe folded = app;
  folded.compose_text = "services:\n  hello:\n    image: >-\n      mrforge/hello:1.0\n  worker:\n    image: "
                        "mrforge/worker:1.0 # pinned below\n";
  CHECK_THAT(error_message([&] {
               builder::pin_compose_images(folded, {{"hello", d1}});
             }),
             Catch::Contains("docker-compose.yaml:3:12") && Catch::Contains("service 'hello'"));
  CHECK(builder::pin_compose_images(folded, {{"worker", d2}})
            .find("image: mrforge/worker:1.0@" + d2 + " # pinned below\n") != std::string::npos);
}

TEST_CASE("DstackApp recipes are strict: services match the compose file, images name their recipe", "[dstack_app]") {
  TempDir work("app-recipe");
  fs::create_directories(work / "oci");
  for (const char *f : {"hello.yaml", "hello.sh", "motd"})
    fs::copy_file(source_path(std::string("examples/oci/") + f), work / (std::string("oci/") + f));
  auto load_with = [&](const std::string &compose, const std::string &extra) {
    write_text(work / "c.yaml", compose);
    write_text(work / "app.yaml", "apiVersion: mrforge/v1\nkind: DstackApp\nname: t\ncompose: c.yaml\n"
                                  "services:\n  web: {recipe: oci/hello.yaml}\nkey_provider: none\n" +
                                      extra);
    return error_message([&] { builder::load_app_recipe(work / "app.yaml"); });
  };
  CHECK_THAT(load_with("services:\n  web: {image: nginx:1}\n", ""),
             Catch::Contains("app.yaml:6:8") && Catch::Contains("has image 'nginx:1'") &&
                 Catch::Contains("write image: mrforge/hello:1.0"));
  CHECK_THAT(load_with("services:\n  web: {image: 'mrforge/hello:1.0'}\n  db: {image: postgres:16}\n", ""),
             Catch::Contains("service 'db'") && Catch::Contains("has no entry here"));
  CHECK_THAT(load_with("services:\n  web: {image: mrforge/hello:1.0}\n", "event_log_version: 2\n"),
             Catch::Contains("event_log_version"));
  CHECK_THAT(load_with("services:\n  web: {image: mrforge/hello:1.0}\n", "key_provider_id: 'abcd'\n"),
             Catch::Contains("key_provider_id") && Catch::Contains("key_provider none"));
  CHECK_THAT(load_with("services:\n  web: {image: mrforge/hello:1.0}\n", "allowed_envs: [A, 'B C']\n"),
             Catch::Contains("allowed_envs") && Catch::Contains("environment variable name"));
  CHECK_THAT(load_with("services:\n  web: {image: mrforge/hello:1.0}\n", "app_id: abcd\n"),
             Catch::Contains("app_id") && Catch::Contains("40 hex digits"));
  CHECK(builder::is_app_recipe(work / "app.yaml"));
  CHECK_FALSE(builder::is_app_recipe(work / "oci/hello.yaml"));
}

TEST_CASE("RTMR3 against an app: app-id and compose-hash compared, runtime values from the log", "[dstack_app]") {
  const Bytes compose_hash = from_hex(std::string(64, 'c'), "t"),
              app_id(compose_hash.begin(), compose_hash.begin() + 20);
  AppExpectation e{app_id, compose_hash, false, "kms", "", ""};

  AppCheck ok = check_app_events(e, app_log(app_id, compose_hash));
  CHECK(ok.ok());
  REQUIRE(ok.events.size() == 8);
  CHECK(ok.events[1].status == AppEventStatus::match);
  CHECK(ok.events[2].status == AppEventStatus::match);
  CHECK(ok.events[3].status == AppEventStatus::from_log); // instance-id
  CHECK(ok.events[5].status == AppEventStatus::match);    // key-provider: the name, the id from the log
  CHECK(ok.events[5].note.find("id taken from the log") != std::string::npos);
  CHECK(ok.events[6].status == AppEventStatus::match); // system-ready (empty)
  CHECK(ok.events[7].status == AppEventStatus::app_event);

  Bytes other = compose_hash;
  other[31] ^= 1;
  AppCheck bad = check_app_events(e, app_log(app_id, other));
  CHECK_FALSE(bad.ok());
  REQUIRE(bad.first_divergent);
  CHECK(bad.events[*bad.first_divergent].name == "compose-hash");
  CHECK(bad.compose_hash_match == false);
  CHECK(bad.app_id_match == true);
  CHECK(bad.logged_compose_hash == other);

  // key-provider: the guest's name for the app's choice, and the id when the app pins one.
  AppExpectation local = e;
  local.key_provider = "local";
  AppCheck sgx = check_app_events(local, app_log(app_id, compose_hash));
  REQUIRE(sgx.first_divergent);
  CHECK(sgx.events[*sgx.first_divergent].name == "key-provider");
  CHECK(sgx.events[*sgx.first_divergent].note ==
        "the TD used key provider kms; the app chose key_provider local (local-sgx)");
  AppExpectation pinned = e;
  pinned.key_provider_id = "30";
  CHECK(check_app_events(pinned, app_log(app_id, compose_hash)).ok());
  pinned.key_provider_id = "31";
  AppCheck other_kms = check_app_events(pinned, app_log(app_id, compose_hash));
  REQUIRE(other_kms.first_divergent);
  CHECK(other_kms.events[*other_kms.first_divergent].note == "the TD's key provider id is 30; the app pins 31");
  EventLog odd_kp = app_log(app_id, compose_hash);
  odd_kp.events[5] = runtime_event(5, "key-provider", text_bytes("{\"id\":\"30\",\"name\":\"kms\"}"));
  AppCheck reordered = check_app_events(e, odd_kp);
  REQUIRE(reordered.first_divergent);
  CHECK(reordered.events[*reordered.first_divergent].note.find("not the {\"name\"") != std::string::npos);

  // gpu-policy-hash (newer guests): the app sets no GPU policy, so it is dstack's hash of "{}",
  // computed here by Python's hashlib; an init-script-hash means the TD ran a script the app lacks.
  const Bytes default_policy = from_hex(
      sh(std::string(k_python) + " -c \"import hashlib; print(hashlib.sha256(b'{}').hexdigest(), end='')\""), "py");
  EventLog gpu = app_log(app_id, compose_hash);
  gpu.events.insert(gpu.events.begin() + 3, runtime_event(3, "gpu-policy-hash", default_policy));
  gpu.events.insert(gpu.events.begin() + 4, runtime_event(4, "gpu-attestation", text_bytes("{\"version\":1}")));
  AppCheck gpu_ok = check_app_events(e, gpu);
  CHECK(gpu_ok.ok());
  CHECK(gpu_ok.events[3].status == AppEventStatus::match);
  CHECK(gpu_ok.events[4].status == AppEventStatus::from_log);
  gpu.events[3] = runtime_event(3, "gpu-policy-hash", compose_hash);
  AppCheck gpu_bad = check_app_events(e, gpu);
  REQUIRE(gpu_bad.first_divergent);
  CHECK(gpu_bad.events[*gpu_bad.first_divergent].name == "gpu-policy-hash");
  EventLog script = app_log(app_id, compose_hash);
  script.events.insert(script.events.begin() + 3, runtime_event(3, "init-script-hash", compose_hash));
  AppCheck script_check = check_app_events(e, script);
  REQUIRE(script_check.first_divergent);
  CHECK(script_check.events[*script_check.first_divergent].name == "init-script-hash");

  // storage-fs: compared when the app sets storage_fs, else taken from the log.
  EventLog with_fs = app_log(app_id, compose_hash);
  with_fs.events.insert(with_fs.events.begin() + 6, runtime_event(6, "storage-fs", text_bytes("zfs")));
  CHECK(check_app_events(e, with_fs).events[6].status == AppEventStatus::from_log);
  AppExpectation ext4 = e;
  ext4.storage_fs = "ext4";
  AppCheck fs_check = check_app_events(ext4, with_fs);
  REQUIRE(fs_check.first_divergent);
  CHECK(fs_check.events[*fs_check.first_divergent].note == "the TD's storage is zfs; the app sets storage_fs ext4");
  ext4.storage_fs = "zfs";
  CHECK(check_app_events(ext4, with_fs).ok());

  // no_instance_id: instance-id must be empty and is compared.
  AppExpectation no_id = e;
  no_id.no_instance_id = true;
  AppCheck id = check_app_events(no_id, app_log(app_id, compose_hash));
  REQUIRE(id.first_divergent);
  CHECK(id.events[*id.first_divergent].name == "instance-id");

  // An event dstack's guest does not emit before system-ready, a missing app-id, a data mismatch.
  EventLog odd = app_log(app_id, compose_hash);
  odd.events.insert(odd.events.begin() + 4, runtime_event(99, "debug-shell", text_bytes("on")));
  AppCheck unknown = check_app_events(e, odd);
  REQUIRE(unknown.first_divergent);
  CHECK(unknown.events[*unknown.first_divergent].name == "debug-shell");
  EventLog missing = app_log(app_id, compose_hash);
  missing.events.erase(missing.events.begin() + 1);
  AppCheck none = check_app_events(e, missing);
  CHECK_FALSE(none.ok());
  CHECK(none.problems == std::vector<std::string>{"RTMR3 has no app-id event before system-ready"});
  EventLog altered = app_log(app_id, compose_hash);
  altered.events[2].data = other; // the digest still covers the record's hash
  AppCheck alt = check_app_events(e, altered);
  REQUIRE(alt.first_divergent);
  CHECK(alt.events[*alt.first_divergent].note.find("do not hash to its digest") != std::string::npos);
}

TEST_CASE("measure --app's expected RTMR3 events are what verify --app accepts, for each key provider",
          "[dstack_app]") {
  const Bytes compose_hash = from_hex(std::string(64, 'c'), "t"),
              app_id(compose_hash.begin(), compose_hash.begin() + 20);
  for (const char *provider : {"kms", "local", "none"}) {
    for (DstackGuest guest : {DstackGuest::v0_6_0, DstackGuest::g312dc605}) {
      INFO(provider << " " << dstack_guest_name(guest));
      AppRtmr3Inputs in;
      in.guest = guest;
      in.app_id = app_id;
      in.compose_hash = compose_hash;
      in.key_provider = provider;
      in.key_provider_id = std::string(provider) == "none" ? "" : "30";
      in.instance_id = Bytes(20, 0x5a);
      if (std::string(provider) == "kms") in.os_image_hash = Bytes(32, 0x07);
      in.storage_fs = "ext4";
      std::vector<ExpectedRuntimeEvent> events = expected_app_rtmr3_events(in);
      CHECK(events.size() == (guest == DstackGuest::g312dc605 ? 9u : 8u) + (in.os_image_hash ? 1u : 0u));
      EventLog log;
      for (size_t i = 0; i < events.size(); ++i)
        log.events.push_back(runtime_event(i, events[i].name, events[i].payload));
      AppCheck check = check_app_events({app_id, compose_hash, false, provider, in.key_provider_id, "ext4"}, log);
      CHECK(check.ok());
      CHECK(replay(log)[3] == replay_rtmr3(events));
    }
  }
  AppRtmr3Inputs bad;
  bad.app_id = app_id;
  bad.compose_hash = compose_hash;
  bad.key_provider = "local";
  bad.key_provider_id = "30";
  bad.instance_id = Bytes(20, 1);
  bad.storage_fs = "zfs";
  bad.os_image_hash = Bytes(32, 0); // only a KMS app's TD logs one
  CHECK_THROWS_AS(expected_app_rtmr3_events(bad), InputError);
  bad.os_image_hash.reset();
  bad.no_instance_id = true; // then the instance id is empty
  CHECK_THROWS_AS(expected_app_rtmr3_events(bad), InputError);
  bad.instance_id.clear();
  CHECK(expected_app_rtmr3_events(bad)[4].payload.empty());
}

TEST_CASE("mrforge-app.json is read strictly", "[dstack_app]") {
  nlohmann::ordered_json r = {{"kind", "DstackApp"},
                              {"name", "a"},
                              {"recipe", {{"name", "a"}, {"sha256", std::string(64, '1')}}},
                              {"app_compose", "app-compose.json"},
                              {"compose_hash", std::string(64, 'c')},
                              {"app_id", std::string(40, 'c')},
                              {"app_id_source", "compose-hash"},
                              {"key_provider", "kms"},
                              {"key_provider_id", ""},
                              {"storage_fs", ""},
                              {"no_instance_id", false},
                              {"services",
                               {{{"name", "web"},
                                 {"source", "recipe"},
                                 {"ref", "x:1"},
                                 {"digest", "sha256:" + std::string(64, 'd')},
                                 {"image", "x:1@sha256:" + std::string(64, 'd')},
                                 {"recipe", "x.yaml"},
                                 {"recipe_name", "x"},
                                 {"recipe_sha256", std::string(64, '2')},
                                 {"lock_sha256", std::string(64, '3')},
                                 {"output", "images/web"}}}},
                              {"tool", "mrforge"}};
  auto parse = [](const nlohmann::ordered_json &j) {
    std::string s = j.dump();
    return parse_app_record(ByteView::of(s), "r.json");
  };
  CHECK(parse(r).services.at(0).image == "x:1@sha256:" + std::string(64, 'd'));
  // Cut at every length: a clean mrforge error, never a crash or a partial record.
  const std::string whole = r.dump();
  for (size_t n = 0; n < whole.size(); ++n) {
    INFO(n);
    const std::string cut = whole.substr(0, n);
    CHECK_THROWS_AS(parse_app_record(ByteView::of(cut), "cut.json"), Error);
  }
  auto with = [&](const char *key, nlohmann::ordered_json v) {
    nlohmann::ordered_json c = r;
    c[key] = std::move(v);
    return error_message([&] { parse(c); });
  };
  CHECK_THAT(with("app_id", std::string(40, 'd')), Catch::Contains("r.json.app_id") && Catch::Contains("first 20"));
  CHECK_THAT(with("app_id_source", "kms"), Catch::Contains("r.json.app_id_source"));
  {
    nlohmann::ordered_json pinned = r; // a deployment's own app id: not the compose hash's prefix
    pinned["app_id"] = std::string(40, 'd');
    pinned["app_id_source"] = "recipe";
    CHECK(parse(pinned).app_id_pinned);
    CHECK(parse(pinned).app_id == std::string(40, 'd'));
  }
  CHECK_THAT(with("compose_hash", std::string(64, 'C')), Catch::Contains("r.json.compose_hash"));
  CHECK_THAT(with("key_provider", "tpm"), Catch::Contains("r.json.key_provider"));
  CHECK_THAT(with("key_provider_id", "3G"), Catch::Contains("r.json.key_provider_id"));
  CHECK_THAT(with("key_provider_id", "ABCD"), Catch::Contains("r.json.key_provider_id"));
  CHECK_THAT(with("storage_fs", "btrfs"), Catch::Contains("r.json.storage_fs"));
  CHECK(parse(r).storage_fs.empty());
  CHECK_THAT(with("kind", "OciImage"), Catch::Contains("r.json.kind"));
  CHECK_THAT(with("app_compose", "../x.json"), Catch::Contains("r.json.app_compose"));
  nlohmann::ordered_json c = r;
  c["services"][0]["image"] = "y:1@sha256:" + std::string(64, 'd');
  CHECK_THAT(error_message([&] { parse(c); }), Catch::Contains("services[0].image"));

  // A service pinned from an OCI layout: its layout instead of a recipe and a lock.
  nlohmann::ordered_json pinned = r;
  pinned["services"].push_back({{"name", "db"},
                                {"source", "oci-layout"},
                                {"ref", "docker.io/library/redis:7.2"},
                                {"digest", "sha256:" + std::string(64, 'e')},
                                {"image", "docker.io/library/redis:7.2@sha256:" + std::string(64, 'e')},
                                {"oci_layout", "vendor/redis"},
                                {"output", "images/db"}});
  AppRecord both = parse(pinned);
  REQUIRE(both.services.size() == 2);
  CHECK(both.services[0].source == "recipe");
  CHECK(both.services[0].lock_sha256 == std::string(64, '3'));
  CHECK(both.services[1].source == "oci-layout");
  CHECK(both.services[1].oci_layout == "vendor/redis");
  CHECK(both.services[1].lock_sha256.empty());
  CHECK(both.services[1].recipe.empty());
  auto service_with = [&](size_t i, const char *key, nlohmann::ordered_json v) {
    nlohmann::ordered_json e = pinned;
    if (v.is_null())
      e["services"][i].erase(key);
    else
      e["services"][i][key] = std::move(v);
    return error_message([&] { parse(e); });
  };
  // Each source has exactly its own fields.
  CHECK_THAT(service_with(1, "lock_sha256", std::string(64, '3')),
             Catch::Contains("r.json.services[1].lock_sha256") && Catch::Contains("no recipe and no lock"));
  CHECK_THAT(service_with(1, "recipe", "x.yaml"), Catch::Contains("r.json.services[1].recipe"));
  CHECK_THAT(service_with(1, "oci_layout", nullptr), Catch::Contains("r.json.services[1].oci_layout: missing"));
  CHECK_THAT(service_with(1, "oci_layout", "/abs/layout"), Catch::Contains("r.json.services[1].oci_layout"));
  CHECK_THAT(service_with(1, "oci_layout", 7), Catch::Contains("r.json.services[1].oci_layout"));
  CHECK_THAT(service_with(0, "oci_layout", "vendor/x"),
             Catch::Contains("r.json.services[0].oci_layout") && Catch::Contains("built from a recipe"));
  CHECK_THAT(service_with(0, "lock_sha256", nullptr), Catch::Contains("r.json.services[0].lock_sha256: missing"));
  CHECK_THAT(service_with(1, "source", "registry"),
             Catch::Contains("r.json.services[1].source") && Catch::Contains("recipe or oci-layout"));
  CHECK_THAT(service_with(0, "source", nullptr), Catch::Contains("r.json.services[0].source: missing"));
  CHECK_THAT(service_with(1, "image", "docker.io/library/redis:7.2@sha256:" + std::string(64, 'f')),
             Catch::Contains("r.json.services[1].image"));
  const std::string whole_pinned = pinned.dump();
  for (size_t n = 0; n < whole_pinned.size(); ++n) {
    INFO(n);
    const std::string cut = whole_pinned.substr(0, n);
    CHECK_THROWS_AS(parse_app_record(ByteView::of(cut), "cut.json"), Error);
  }
}

namespace {

// examples/oci and examples/dstack-app copied to `to` (the app refers to ../oci/hello.yaml).
void copy_examples(const std::string &to, const std::string &touch_time) {
  for (const char *dir : {"oci", "dstack-app"}) {
    fs::create_directories(to + "/" + dir);
    for (const auto &e : fs::directory_iterator(source_path(std::string("examples/") + dir))) {
      std::string dest = to + "/" + dir + "/" + e.path().filename().string();
      fs::copy_file(e.path(), dest);
      REQUIRE(run_shell("touch -d " + shell_quote(touch_time) + " " + shell_quote(dest)).exit_code == 0);
    }
  }
}

// Fetches both service images' locked inputs into `store` (a fresh lock if the mirror no longer
// serves the committed one, as in the OCI example's test).
void fetch_app_inputs(const std::string &examples, const std::string &store,
                      const std::vector<std::string> &recipes = {"dstack-app/app.yaml"}) {
  for (const std::string &recipe : recipes) {
    std::string path = examples + "/" + recipe;
    ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--store", store, path});
    if (fetched.exit_code != 0) {
      WARN("the committed lock of " << recipe << " could not be fetched, locking afresh: " << fetched.err);
      REQUIRE(run_mrforge_cli({"lock", path}).exit_code == 0);
      REQUIRE(run_mrforge_cli({"fetch", "--frozen", "--store", store, path}).exit_code == 0);
    }
    if (recipe != "dstack-app/app.yaml") continue;
    // The app's fetch and lock --check went through each service's recipe, and say so.
    ShellResult again = run_mrforge_cli({"fetch", "--frozen", "--offline", "--json", "--store", store, path});
    REQUIRE(again.exit_code == 0);
    nlohmann::json j = nlohmann::json::parse(again.out);
    REQUIRE(j["services"].size() == 2);
    CHECK(j["services"][0]["recipe"] == "../oci/hello.yaml");
    CHECK(j["services"][1]["recipe"] == "worker.yaml");
    CHECK(j["services"][0]["in_store"] == j["services"][0]["packages"]);
    ShellResult check = run_mrforge_cli({"lock", "--check", path});
    CHECK(check.exit_code == 0);
    CHECK(check.out.find("service worker: worker.yaml") != std::string::npos);
    CHECK(check.out.find("worker.yaml.lock is current") != std::string::npos);
  }
}

// A key pair WORK/ci.key and WORK/ci.pub, `out` signed with it (OUT.intoto.json), and
// verify-signature of that envelope against `artifacts` (another build of the same app).
ShellResult sign_and_verify(const std::string &work, const std::string &out, const std::string &artifacts) {
  REQUIRE(run_mrforge_cli({"keygen", "-o", work + "/ci"}).exit_code == 0);
  ShellResult sign = run_mrforge_cli({"sign", "--key", work + "/ci.key", out});
  INFO(sign.err);
  REQUIRE(sign.exit_code == 0);
  return run_mrforge_cli(
      {"verify-signature", "--pub", work + "/ci.pub", out + ".intoto.json", "--artifacts", artifacts});
}

// A dstack quote-report vector whose RTMR3 app-id and compose-hash events are replaced, computed
// by Python independently of mrforge: the runtime event digests (SHA384(u32le(type) || ":" ||
// name || ":" || payload), dstack cc-eventlog runtime_events.rs), RTMR3's replay, and the quote
// with that RTMR3 at offset 520 (48-byte header + the TD report's fields before RTMR3). The
// vector's own RTMR3 is checked at that offset first.
// `base`: a real dstack attestation document (tdx-lite-getquote.json, whose vm_config holds dstack's
// measurement file, with a KMS key provider; quote-report.json, local SGX sealing).
void make_td_document(const std::string &app_compose, const std::string &out, const std::string &app_id = "",
                      const char *base = "dstack/tdx-lite-getquote.json") {
  const char *script = R"PY(
import hashlib, json, struct, sys
vec, app_compose, out, app_id = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
d = json.load(open(vec))
events = json.loads(d['event_log']) if isinstance(d['event_log'], str) else d['event_log']
quote = bytearray.fromhex(d['quote'])
def replay(evs):
    mr = bytes(48)
    for e in evs:
        mr = hashlib.sha384(mr + bytes.fromhex(e['digest'])).digest()
    return mr
rtmr3 = [e for e in events if e['imr'] == 3]
def redigest(evs):  # dstack's runtime event digest (some vectors leave it blank in the JSON)
    for e in evs:
        pre = struct.pack('<I', e['event_type']) + b':' + e['event'].encode() + b':' + bytes.fromhex(e['event_payload'])
        e['digest'] = hashlib.sha384(pre).hexdigest()
redigest(rtmr3)
assert replay(rtmr3) == bytes(quote[520:568]), 'RTMR3 is not at offset 520'
compose_hash = hashlib.sha256(open(app_compose, 'rb').read()).digest()
aid = bytes.fromhex(app_id) if app_id else compose_hash[:20]
for e in rtmr3:
    if e['event'] == 'app-id':
        e['event_payload'] = aid.hex()
    if e['event'] == 'compose-hash':
        e['event_payload'] = compose_hash.hex()
redigest(rtmr3)
quote[520:568] = replay(rtmr3)
d['quote'] = quote.hex()
d['event_log'] = json.dumps(events)
json.dump(d, open(out, 'w'))
)PY";
  sh(std::string(k_python) + " -c " + shell_quote(script) + " " + shell_quote(vector_path(base)) + " " +
     shell_quote(app_compose) + " " + shell_quote(out) + " " + shell_quote(app_id));
}

// The record's app-compose.json with `edit` applied to its compose file, normalized by Python.
void deployed_variant(const std::string &record_compose, const std::string &edit_python, const std::string &out) {
  sh(std::string(k_python) + " -c " +
     shell_quote("import json,sys\n"
                 "d=json.load(open(sys.argv[1],encoding='utf-8'))\n"
                 "c=d['docker_compose_file']\n" +
                 edit_python +
                 "\nd['docker_compose_file']=c\n"
                 "open(sys.argv[2],'wb').write(json.dumps(d,sort_keys=True,separators=(',',':'),"
                 "ensure_ascii=False).encode('utf-8'))\n") +
     " " + shell_quote(record_compose) + " " + shell_quote(out));
}

} // namespace

TEST_CASE("The example app is byte-identical when built under different conditions, and its compose hash is dstack's",
          "[dstack_app][network]") {
  TempDir work("app-repro");
  std::string store = work / "store";
  copy_examples(work / "a/examples", "2001-02-03 04:05:06");
  copy_examples(work / "b/nested/examples", "2024-12-24 18:00:00");
  fetch_app_inputs(work / "a/examples", store);
  for (const char *lock : {"oci/hello.yaml.lock", "dstack-app/worker.yaml.lock"})
    fs::copy_file(work / (std::string("a/examples/") + lock), work / (std::string("b/nested/examples/") + lock),
                  fs::copy_options::overwrite_existing);
  fs::create_directories(work / "cwd-a");
  fs::create_directories(work / "cwd-b");
  ShellResult a = run_mrforge_cli({"build", "--frozen", "--offline", "--threads", "1", "--store", store,
                                   "../a/examples/dstack-app/app.yaml", "-o", "../out-a"},
                                  "cd " + shell_quote(work / "cwd-a") + " && umask 022 && TZ=UTC LC_ALL=C");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  ShellResult b = run_mrforge_cli({"build", "--frozen", "--offline", "--threads", "2", "--store", store,
                                   work / "b/nested/examples/dstack-app/app.yaml", "-o", work / "out-b"},
                                  "cd " + shell_quote(work / "cwd-b") +
                                      " && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8 LANG=de_DE.UTF-8");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  auto da = file_digests(work / "out-a"), db = file_digests(work / "out-b");
  CHECK(da.count("app-compose.json") == 1);
  CHECK(da.count("images/hello/docker-archive.tar") == 1);
  CHECK(da.count("images/worker/index.json") == 1);
  CHECK(da == db);
  CHECK(builder::diff_paths(work / "out-a", work / "out-b").empty());

  // The compose hash: sha256 of the file's bytes, which are Python's normalization of themselves.
  const std::string app_compose = work / "out-a/app-compose.json";
  std::string bytes = read_text(app_compose);
  CHECK(python_normalized(app_compose) == bytes);
  std::string hash = sha256_of_file(app_compose);
  nlohmann::json record = nlohmann::json::parse(read_text(work / "out-a/mrforge-app.json"));
  CHECK(record["compose_hash"] == hash);
  CHECK(record["app_id"] == hash.substr(0, 40));
  CHECK(a.out.find(hash) != std::string::npos);

  // Each service's image is the digest of the image built for it, named so in the compose file.
  nlohmann::json compose = nlohmann::json::parse(bytes);
  CHECK(compose["docker_compose_file"] == read_text(work / "out-a/docker-compose.yaml"));
  CHECK(compose["key_provider"] == "kms");
  CHECK(compose["kms_enabled"] == true);
  CHECK(compose["allowed_envs"] == nlohmann::json::array({"GREETING"}));
  REQUIRE(record["services"].size() == 2);
  for (const auto &s : record["services"]) {
    nlohmann::json index =
        nlohmann::json::parse(read_text(work / ("out-a/" + s["output"].get<std::string>()) + "/index.json"));
    std::string digest = index["manifests"][0]["digest"];
    CHECK(s["digest"] == digest);
    CHECK(s["image"] == s["ref"].get<std::string>() + "@" + digest);
    CHECK(compose["docker_compose_file"].get<std::string>().find(s["image"].get<std::string>()) != std::string::npos);
  }
  CHECK(record["services"][0]["recipe"] == "../oci/hello.yaml");

  // Signed like an image: the statement names every file and verifies against the directory.
  ShellResult vs = sign_and_verify(work.path(), work / "out-a", work / "out-b");
  INFO(vs.err);
  CHECK(vs.exit_code == 0);
  CHECK(vs.out.find(hash) != std::string::npos);
  CHECK(vs.out.find("images/worker/docker-archive.tar") != std::string::npos);

  // rebuild --against the published app, with its envelope: identical.
  ShellResult rb =
      run_mrforge_cli({"rebuild", "-q", "--threads", "2", work / "a/examples/dstack-app/app.yaml", "--against",
                       work / "out-a", "--envelope", work / "out-a.intoto.json", "--pub", work / "ci.pub"});
  INFO(rb.out << rb.err);
  CHECK(rb.exit_code == 0);
  CHECK(rb.out.find("IDENTICAL") != std::string::npos);

  // A changed compose file: another compose hash, and diff names the compose file's line.
  write_text(work / "b/nested/examples/dstack-app/docker-compose.yaml",
             read_text(work / "b/nested/examples/dstack-app/docker-compose.yaml") + "    stop_grace_period: 5s\n");
  ShellResult c = run_mrforge_cli({"build", "--frozen", "--offline", "--store", store,
                                   work / "b/nested/examples/dstack-app/app.yaml", "-o", work / "out-b"});
  INFO(c.err);
  REQUIRE(c.exit_code == 0);
  CHECK(sha256_of_file(work / "out-b/app-compose.json") != hash);
  ShellResult diff = run_mrforge_cli({"diff", work / "out-a", work / "out-b"});
  CHECK(diff.exit_code == 4);
  CHECK(diff.out.find("docker-compose.yaml") != std::string::npos);
  CHECK(diff.out.find("app-compose.json") != std::string::npos);
}

TEST_CASE("verify --app: a dstack TD running the example app matches its record, and another image digest or compose "
          "file is exit 4 naming compose-hash and the service",
          "[dstack_app][network]") {
  TempDir work("app-verify");
  std::string store = work / "store";
  copy_examples(work / "examples", "2020-01-01 00:00:00");
  fetch_app_inputs(work / "examples", store);
  ShellResult built = run_mrforge_cli(
      {"build", "--frozen", "--offline", "--store", store, work / "examples/dstack-app/app.yaml", "-o", work / "app"});
  INFO(built.err);
  REQUIRE(built.exit_code == 0);
  const std::string app_compose = work / "app/app-compose.json";
  nlohmann::json record = nlohmann::json::parse(read_text(work / "app/mrforge-app.json"));
  const std::string app_id = record["app_id"], hello_image = record["services"][0]["image"];

  // The TD ran exactly the record's app-compose.json: dstack's tdx-lite document (a KMS app, its
  // vm_config with dstack's measurement file) with the app's app-id and compose-hash. One command
  // compares every register: MRTD and RTMR0-2 with the measurement file, RTMR3 with the app.
  make_td_document(app_compose, work / "td.json");
  ShellResult ok = run_mrforge_cli({"verify", "--quote", work / "td.json", "--app", work / "app"});
  INFO(ok.out << ok.err);
  CHECK(ok.exit_code == 0);
  REQUIRE(ok.out.find("RESULT:") != std::string::npos);
  const std::string result = ok.out.substr(ok.out.find("RESULT:"));
  CHECK_THAT(result, Catch::StartsWith("RESULT: OK: MRTD, RTMR0, RTMR1, RTMR2 match dstack's measurement file"));
  CHECK_THAT(result, Catch::Contains("; RTMR3's app-id, compose-hash, key-provider match the app record of "
                                     "mrforge-hello-app; RTMR3: 9 event(s), all understood"));
  CHECK_THAT(result, !Catch::Contains("not compared"));
  CHECK(ok.out.find("taken from the log: the TD's random instance seed") != std::string::npos);
  CHECK(ok.out.find("taken from the log: the OS image hash the KMS returned") != std::string::npos);
  CHECK(ok.out.find("storage file system (the app sets no storage_fs") != std::string::npos);
  CHECK(ok.out.find("id taken from the log (the app pins no key_provider_id)") != std::string::npos);

  // measure --app: the RTMR3 this TD reaches, from the record and the values only the TD knows
  // (taken here from its log, as a TD would report them), equals the quote's RTMR3.
  const std::string td_values =
      sh(std::string(k_python) + " -c " +
         shell_quote("import json,sys\n"
                     "d=json.load(open(sys.argv[1]));ev=json.loads(d['event_log'])\n"
                     "v={e['event']:e['event_payload'] for e in ev if e['imr']==3}\n"
                     "kp=json.loads(bytes.fromhex(v['key-provider']))\n"
                     "print(v['instance-id'],kp['id'],v['os-image-hash'],bytes.fromhex(d['quote'])[520:568].hex())\n") +
         " " + shell_quote(work / "td.json"));
  std::istringstream values(td_values);
  std::string instance_id, kms_key, os_image_hash, quote_rtmr3;
  values >> instance_id >> kms_key >> os_image_hash >> quote_rtmr3;
  REQUIRE(quote_rtmr3.size() == 96);
  const std::vector<std::string> runtime = {"--instance-id", instance_id,       "--key-provider-id",
                                            kms_key,         "--os-image-hash", os_image_hash};
  auto measure_app = [&](const std::string &guest, std::vector<std::string> extra) {
    std::vector<std::string> args = {"measure", "--app", work / "app", "--dstack-guest", guest};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_mrforge_cli(args);
  };
  ShellResult m06 = measure_app("0.6.0", runtime);
  INFO(m06.out << m06.err);
  CHECK(m06.exit_code == 0);
  CHECK(m06.out == "RTMR3  " + quote_rtmr3 + "\n");
  CHECK(m06.err.find("storage-fs zfs: dstack's default") != std::string::npos);
  std::vector<std::string> as_json = runtime;
  as_json.push_back("--json");
  ShellResult mhead = measure_app("312dc605", as_json);
  REQUIRE(mhead.exit_code == 0);
  nlohmann::json head = nlohmann::json::parse(mhead.out);
  CHECK(head["rtmr3"] != quote_rtmr3); // that guest adds gpu-policy-hash, which this TD did not log
  REQUIRE(head["events"].size() == 10);
  CHECK(head["events"][3]["name"] == "gpu-policy-hash");
  CHECK(head["events"][1]["payload_hex"] == app_id);
  // The OS image's hash as the KMS knows it: sha256 of its sha256sum.txt.
  fs::create_directories(work / "os");
  write_text(work / "os/sha256sum.txt", std::string(64, 'a') + "  bzImage\n");
  std::vector<std::string> with_image = {"--instance-id", instance_id, "--key-provider-id", kms_key,
                                         "--os-image",    work / "os", "--events"};
  ShellResult mimage = measure_app("0.6.0", with_image);
  CHECK(mimage.exit_code == 0);
  CHECK(mimage.out.find(sha256_of_file(work / "os/sha256sum.txt")) != std::string::npos);
  // What is missing or contradicts the record is refused (exit 2), never assumed.
  CHECK(measure_app("0.6.0", {"--instance-id", instance_id, "--key-provider-id", kms_key}).exit_code == 2);
  CHECK(measure_app("0.7", runtime).exit_code == 2);
  CHECK(run_mrforge_cli({"measure", "--app", work / "app", "--instance-id", instance_id}).exit_code == 2);
  CHECK(measure_app("0.6.0", {"--instance-id", "abcd", "--key-provider-id", kms_key, "--os-image-hash", os_image_hash})
            .exit_code == 2);
  CHECK(run_mrforge_cli({"measure", "--dstack-guest", "0.6.0"}).exit_code == 2);

  // dstack's quote-report.json vector: a TD whose key provider is local SGX, and an app event after
  // system-ready. The example app chose KMS: key-provider is the divergence.
  make_td_document(app_compose, work / "td-sgx.json", "", "dstack/quote-report.json");
  ShellResult sgx = run_mrforge_cli({"verify", "--quote", work / "td-sgx.json", "--app", work / "app"});
  INFO(sgx.out << sgx.err);
  CHECK(sgx.exit_code == 4);
  CHECK(sgx.out.find("first divergent RTMR3 event: log event 25 (key-provider): the TD used key provider "
                     "local-sgx; the app chose key_provider kms (kms)") != std::string::npos);
  CHECK(sgx.out.find("app event") != std::string::npos); // LIUM_MINER_HOTKEY after system-ready
  CHECK(sgx.out.find("RESULT: MISMATCH: RTMR3 differs from the app record of mrforge-hello-app (key-provider)") !=
        std::string::npos);
  ShellResult record_file =
      run_mrforge_cli({"verify", "--quote", work / "td.json", "--app", work / "app/mrforge-app.json", "--json"});
  CHECK(record_file.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(record_file.out);
  CHECK(j["app"]["compose_hash_match"] == true);
  CHECK(j["app"]["app_id_match"] == true);

  // The same compose file with another digest for the hello service, deployed with the record's
  // app id pinned (as a KMS deployment does): compose-hash is the first divergent event.
  std::string other_digest = "sha256:" + std::string(64, 'e');
  deployed_variant(app_compose,
                   "c=c.replace(" + nlohmann::json(hello_image).dump() + "," +
                       nlohmann::json(record["services"][0]["ref"].get<std::string>() + "@" + other_digest).dump() +
                       ")",
                   work / "deployed.json");
  REQUIRE(sha256_of_file(work / "deployed.json") != record["compose_hash"]);
  make_td_document(work / "deployed.json", work / "td-other.json", app_id);
  ShellResult bad = run_mrforge_cli(
      {"verify", "--quote", work / "td-other.json", "--app", work / "app", "--app-compose", work / "deployed.json"});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 4);
  CHECK(bad.out.find("first divergent RTMR3 event: log event") != std::string::npos);
  CHECK(bad.out.find("(compose-hash)") != std::string::npos);
  CHECK(bad.out.find("service 'hello': image mrforge/hello:1.0@" + other_digest + ", the record has " + hello_image) !=
        std::string::npos);
  CHECK(bad.out.find("service 'worker'") == std::string::npos);
  CHECK_THAT(bad.out, Catch::Contains("RESULT: MISMATCH: MRTD, RTMR0, RTMR1, RTMR2 match dstack's measurement file") &&
                          Catch::Contains("; RTMR3 differs from the app record of mrforge-hello-app (compose-hash)"));
  // Without the deployed file: the record's services and digests, and what to give.
  ShellResult bare = run_mrforge_cli({"verify", "--quote", work / "td-other.json", "--app", work / "app"});
  CHECK(bare.exit_code == 4);
  CHECK(bare.out.find("hello " + hello_image) != std::string::npos);
  CHECK(bare.out.find("give --app-compose FILE") != std::string::npos);
  // A file that is not what the TD ran cannot name a service.
  ShellResult wrong = run_mrforge_cli(
      {"verify", "--quote", work / "td-other.json", "--app", work / "app", "--app-compose", app_compose});
  CHECK(wrong.exit_code == 4);
  CHECK(wrong.out.find("is not the app-compose.json this TD ran") != std::string::npos);

  // A changed compose file (same images): compose-hash differs and the report says it is the text.
  deployed_variant(app_compose, "c=c+'    mem_limit: 1g\\n'", work / "deployed-text.json");
  make_td_document(work / "deployed-text.json", work / "td-text.json");
  ShellResult text = run_mrforge_cli({"verify", "--quote", work / "td-text.json", "--app", work / "app",
                                      "--app-compose", work / "deployed-text.json"});
  CHECK(text.exit_code == 4);
  CHECK(text.out.find("(app-id)") != std::string::npos); // not pinned: the app id follows the hash
  CHECK(text.out.find("compose-hash") != std::string::npos);
  CHECK(text.out.find("the same images, but the compose file's text differs") != std::string::npos);

  // A deployment that pins its own app id (a KMS app's registered id): the recipe says so, the
  // compose hash is unchanged, and the TD's app-id event is compared with the pinned id.
  const std::string pinned_id = "0123456789abcdef0123456789abcdef01234567";
  write_text(work / "examples/dstack-app/app.yaml",
             read_text(work / "examples/dstack-app/app.yaml") + "app_id: " + pinned_id + "\n");
  ShellResult pinned_build = run_mrforge_cli({"build", "--frozen", "--offline", "--store", store,
                                              work / "examples/dstack-app/app.yaml", "-o", work / "app-pinned"});
  INFO(pinned_build.err);
  REQUIRE(pinned_build.exit_code == 0);
  CHECK(pinned_build.out.find(pinned_id + " (pinned by the recipe)") != std::string::npos);
  nlohmann::json pinned_record = nlohmann::json::parse(read_text(work / "app-pinned/mrforge-app.json"));
  CHECK(pinned_record["app_id"] == pinned_id);
  CHECK(pinned_record["app_id_source"] == "recipe");
  CHECK(pinned_record["compose_hash"] == record["compose_hash"]);
  make_td_document(work / "app-pinned/app-compose.json", work / "td-pinned.json", pinned_id);
  ShellResult pinned_ok = run_mrforge_cli({"verify", "--quote", work / "td-pinned.json", "--app", work / "app-pinned"});
  INFO(pinned_ok.out << pinned_ok.err);
  CHECK(pinned_ok.exit_code == 0);
  ShellResult derived = run_mrforge_cli({"verify", "--quote", work / "td-pinned.json", "--app", work / "app"});
  CHECK(derived.exit_code == 4);
  CHECK(derived.out.find("RTMR3 differs from the app record of mrforge-hello-app (app-id)") != std::string::npos);

  // The record's output changed after the build is refused (exit 2), not compared.
  write_text(app_compose, read_text(app_compose) + " ");
  CHECK(run_mrforge_cli({"verify", "--quote", work / "td.json", "--app", work / "app"}).exit_code == 2);
}

namespace {

// The path of a host tool, or a failure naming it (a missing tool is never a silent pass).
std::string require_tool(const std::string &name) {
  ShellResult r = run_shell("command -v " + shell_quote(name));
  if (r.exit_code != 0 || r.out.empty())
    FAIL(name << " is not installed: the pinned-layout tests need skopeo and umoci (Debian packages)");
  std::string path = r.out;
  while (!path.empty() && path.back() == '\n') path.pop_back();
  return path;
}

std::string sha256sum(const std::string &path) { return sh("sha256sum " + shell_quote(path)).substr(0, 64); }

// An app recipe in `dir` whose one service `cache` is `service` (a flow mapping), with its compose
// file naming docker.io/library/redis:7.2.
void write_pinned_app(const std::string &dir, const std::string &service, const std::string &extra_services = "",
                      const std::string &extra_compose = "") {
  write_text(dir + "/compose.yaml",
             "services:\n  cache:\n    image: \"docker.io/library/redis:7.2\"\n    restart: always\n" + extra_compose);
  write_text(dir + "/app.yaml", "apiVersion: mrforge/v1\nkind: DstackApp\nname: pinned\ncompose: compose.yaml\n"
                                "services:\n  cache: " +
                                    service + "\n" + extra_services + "key_provider: kms\n");
}

// A one-layer image that umoci (not mrforge) wrote as an OCI layout at dir/vendor/img; returns its
// manifest digest as index.json lists it.
std::string make_umoci_layout(const std::string &dir) {
  std::string umoci = require_tool("umoci");
  const std::string layout = dir + "/vendor/img";
  fs::create_directories(dir + "/vendor");
  write_text(dir + "/payload.txt", "pinned by digest\n");
  sh(shell_quote(umoci) + " init --layout " + shell_quote(layout) + " && " + shell_quote(umoci) + " new --image " +
     shell_quote(layout + ":t") + " && " + shell_quote(umoci) + " insert --image " + shell_quote(layout + ":t") + " " +
     shell_quote(dir + "/payload.txt") + " /payload.txt && " + shell_quote(umoci) + " gc --layout " +
     shell_quote(layout));
  nlohmann::json index = nlohmann::json::parse(read_text(layout + "/index.json"));
  REQUIRE(index["manifests"].size() == 1);
  return index["manifests"][0]["digest"];
}

nlohmann::json blob_json(const std::string &layout, const std::string &digest) {
  return nlohmann::json::parse(read_text(layout + "/blobs/sha256/" + digest.substr(7)));
}

} // namespace

TEST_CASE("A service pinned from a local OCI layout umoci wrote: built, and every way the layout can be wrong is "
          "exit 2 naming the file, with the output left as it was",
          "[dstack_app]") {
  TempDir work("app-pinned-bad");
  const std::string good = work / "good";
  const std::string pin = make_umoci_layout(good);
  const std::string layout = good + "/vendor/img";
  const nlohmann::json manifest = blob_json(layout, pin);
  REQUIRE(manifest["layers"].size() == 1);
  const std::string config_hex = manifest["config"]["digest"].get<std::string>().substr(7);
  const std::string layer_hex = manifest["layers"][0]["digest"].get<std::string>().substr(7);
  const std::string pinned = "{oci_layout: vendor/img, image: docker.io/library/redis:7.2, digest: \"" + pin + "\"}";
  write_pinned_app(good, pinned);

  // The good layout builds: the output's layout holds exactly umoci's blobs, byte for byte.
  const std::string out = work / "out";
  ShellResult ok = run_mrforge_cli({"build", good + "/app.yaml", "-o", out});
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  nlohmann::json out_index = nlohmann::json::parse(read_text(out + "/images/cache/index.json"));
  REQUIRE(out_index["manifests"].size() == 1);
  CHECK(out_index["manifests"][0]["digest"] == pin);
  CHECK(out_index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "docker.io/library/redis:7.2");
  std::map<std::string, std::string> source_blobs = file_digests(layout + "/blobs/sha256"),
                                     copied_blobs = file_digests(out + "/images/cache/blobs/sha256");
  CHECK(source_blobs.size() == 3);
  CHECK(copied_blobs == source_blobs);
  for (const auto &entry : source_blobs) CHECK(entry.first == entry.second); // each blob named by its sha256
  CHECK(read_text(out + "/docker-compose.yaml").find("image: \"docker.io/library/redis:7.2@" + pin + "\"\n") !=
        std::string::npos);
  nlohmann::json record = nlohmann::json::parse(read_text(out + "/mrforge-app.json"));
  CHECK(record["services"][0]["source"] == "oci-layout");
  CHECK(record["services"][0]["oci_layout"] == "vendor/img");
  CHECK(record["services"][0]["digest"] == pin);
  CHECK_FALSE(record["services"][0].contains("lock_sha256"));
  const std::map<std::string, std::string> out_before = file_digests(out);

  // Each case: a fresh copy of the good app with one thing wrong; exit 2 naming `file` and saying
  // `problem`; the earlier output unchanged and a new one never created.
  int n = 0;
  auto refused = [&](const std::string &what, const std::function<void(const std::string &)> &spoil,
                     const std::string &file, const std::string &problem) {
    INFO(what);
    const std::string dir = work / ("case" + std::to_string(++n));
    fs::copy(good, dir, fs::copy_options::recursive);
    spoil(dir);
    ShellResult r = run_mrforge_cli({"build", dir + "/app.yaml", "-o", out});
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains(dir + "/" + file) && Catch::Contains(problem));
    CHECK(file_digests(out) == out_before);
    ShellResult fresh = run_mrforge_cli({"build", dir + "/app.yaml", "-o", dir + "/new-out"});
    CHECK(fresh.exit_code == 2);
    CHECK_FALSE(fs::exists(dir + "/new-out"));
  };
  const std::string blobs = "vendor/img/blobs/sha256/";
  refused(
      "a pin index.json does not list",
      [&](const std::string &d) {
        write_pinned_app(d, "{oci_layout: vendor/img, image: docker.io/library/redis:7.2, digest: \"sha256:" +
                                std::string(64, 'f') + "\"}");
      },
      "vendor/img/index.json", "holds no manifest sha256:" + std::string(64, 'f'));
  refused(
      "a layer with one byte flipped",
      [&](const std::string &d) {
        std::string bytes = read_text(d + "/" + blobs + layer_hex);
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
        write_text(d + "/" + blobs + layer_hex, bytes);
      },
      blobs + layer_hex, "layer 0: its sha256 is");
  refused(
      "a truncated config",
      [&](const std::string &d) {
        fs::resize_file(d + "/" + blobs + config_hex, fs::file_size(d + "/" + blobs + config_hex) - 1);
      },
      blobs + config_hex,
      "the image config: " + std::to_string(manifest["config"]["size"].get<uint64_t>() - 1) +
          " bytes, the manifest's descriptor says " + std::to_string(manifest["config"]["size"].get<uint64_t>()));
  refused(
      "a missing layer", [&](const std::string &d) { fs::remove(d + "/" + blobs + layer_hex); }, blobs + layer_hex,
      "No such file");
  refused(
      "a layer that is a symbolic link (to the very bytes it should have)",
      [&](const std::string &d) {
        fs::rename(d + "/" + blobs + layer_hex, d + "/outside");
        fs::create_symlink(d + "/outside", d + "/" + blobs + layer_hex);
      },
      blobs + layer_hex, "is a symbolic link");
  refused(
      "a layer that is a FIFO (never opened for a read that would block)",
      [&](const std::string &d) {
        fs::remove(d + "/" + blobs + layer_hex);
        sh("mkfifo " + shell_quote(d + "/" + blobs + layer_hex));
      },
      blobs + layer_hex, "not a regular file");
  refused(
      "a manifest whose bytes are not the pin's",
      [&](const std::string &d) {
        const std::string path = d + "/" + blobs + pin.substr(7);
        std::string bytes = read_text(path);
        bytes[bytes.size() - 2] = bytes[bytes.size() - 2] == ' ' ? '\t' : ' ';
        write_text(path, bytes);
      },
      blobs + pin.substr(7), "the manifest's sha256 is");
  refused(
      "an image index (a multi-platform image) pinned instead of its platform's manifest",
      [&](const std::string &d) {
        const std::string l = d + "/vendor/img";
        nlohmann::json index = nlohmann::json::parse(read_text(l + "/index.json"));
        nlohmann::json platform_manifest = index["manifests"][0];
        platform_manifest.erase("annotations");
        platform_manifest["platform"] = {{"architecture", "amd64"}, {"os", "linux"}};
        const std::string image_index = nlohmann::json{{"schemaVersion", 2},
                                                       {"mediaType", "application/vnd.oci.image.index.v1+json"},
                                                       {"manifests", nlohmann::json::array({platform_manifest})}}
                                            .dump();
        write_text(l + "/multi", image_index);
        const std::string hex = sha256sum(l + "/multi");
        fs::rename(l + "/multi", l + "/blobs/sha256/" + hex);
        index["manifests"].push_back({{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                      {"digest", "sha256:" + hex},
                                      {"size", image_index.size()}});
        write_text(l + "/index.json", index.dump());
        write_pinned_app(d, "{oci_layout: vendor/img, image: docker.io/library/redis:7.2, digest: \"sha256:" + hex +
                                "\"}");
      },
      "vendor/img/index.json", "is an image index");
  // The recipe's own mistakes: app.yaml:LINE:COLUMN and the field.
  refused(
      "recipe and oci_layout both",
      [&](const std::string &d) {
        write_pinned_app(d, "{recipe: app.yaml, oci_layout: vendor/img, image: docker.io/library/redis:7.2, "
                            "digest: \"" +
                                pin + "\"}");
      },
      "app.yaml:6:", "oci_layout: a service's image comes from a recipe or from an OCI layout, not both");
  refused(
      "digest with recipe",
      [&](const std::string &d) { write_pinned_app(d, "{recipe: r.yaml, digest: \"" + pin + "\"}"); },
      "app.yaml:6:", "digest: is only for oci_layout services");
  refused(
      "no image",
      [&](const std::string &d) { write_pinned_app(d, "{oci_layout: vendor/img, digest: \"" + pin + "\"}"); },
      "app.yaml:6:10", "needs image:");
  refused(
      "no digest",
      [&](const std::string &d) {
        write_pinned_app(d, "{oci_layout: vendor/img, image: docker.io/library/redis:7.2}");
      },
      "app.yaml:6:10", "needs digest:");
  refused(
      "a digest that is not sha256:HEX",
      [&](const std::string &d) {
        write_pinned_app(d, "{oci_layout: vendor/img, image: docker.io/library/redis:7.2, digest: \"sha256:ABC\"}");
      },
      "app.yaml:6:", "digest: expected sha256: and 64 lower-case hex digits");
  refused(
      "a layout folder that is not there",
      [&](const std::string &d) {
        write_pinned_app(d, "{oci_layout: vendor/none, image: docker.io/library/redis:7.2, digest: \"" + pin + "\"}");
      },
      "app.yaml:6:", "no OCI image layout folder");
}

TEST_CASE("A service pinned by digest from an OCI layout skopeo wrote: verified, copied byte for byte, reproducible, "
          "signed, rebuilt, and loadable from its docker-archive",
          "[dstack_app][network]") {
  const std::string skopeo = require_tool("skopeo");
  TempDir work("app-pinned");
  const std::string store = work / "store";
  copy_examples(work / "a/examples", "2001-02-03 04:05:06");
  fetch_app_inputs(work / "a/examples", store, {"oci/hello.yaml"});
  ShellResult hello = run_mrforge_cli(
      {"build", "--frozen", "--offline", "--store", store, work / "a/examples/oci/hello.yaml", "-o", work / "hello"});
  INFO(hello.err);
  REQUIRE(hello.exit_code == 0);

  // A layout mrforge did not write: skopeo converts the docker-archive into an OCI layout with a
  // manifest and config of its own making.
  const std::string app_dir = work / "a/app";
  const std::string layout = app_dir + "/vendor/redis";
  fs::create_directories(app_dir + "/vendor");
  sh(shell_quote(skopeo) + " --insecure-policy copy " +
     shell_quote("docker-archive:" + work / "hello/docker-archive.tar") + " " +
     shell_quote("oci:" + layout + ":cache") + " >/dev/null");
  nlohmann::json skopeo_index = nlohmann::json::parse(read_text(layout + "/index.json"));
  REQUIRE(skopeo_index["manifests"].size() == 1);
  const std::string pin = skopeo_index["manifests"][0]["digest"];
  // The pin is the sha256 of the manifest skopeo serves from its layout, not mrforge's manifest.
  write_text(work / "raw-manifest",
             sh(shell_quote(skopeo) + " inspect --raw " + shell_quote("oci:" + layout + ":cache")));
  CHECK("sha256:" + sha256sum(work / "raw-manifest") == pin);
  CHECK(pin != nlohmann::json::parse(read_text(work / "hello/index.json"))["manifests"][0]["digest"]);

  // The app: the hello recipe built as `web`, skopeo's layout pinned as `cache`.
  write_pinned_app(app_dir, "{oci_layout: vendor/redis, image: docker.io/library/redis:7.2, digest: \"" + pin + "\"}",
                   "  web: {recipe: ../examples/oci/hello.yaml}\n", "  web:\n    image: mrforge/hello:1.0\n");
  fs::create_directories(work / "b");
  fs::copy(work / "a", work / "b/nested", fs::copy_options::recursive);
  sh("chmod -R go-rwx " + shell_quote(work / "b"));
  fs::create_directories(work / "cwd-a");
  fs::create_directories(work / "cwd-b");
  ShellResult a =
      run_mrforge_cli({"build", "--frozen", "--offline", "--store", store, "../a/app/app.yaml", "-o", "../out-a"},
                      "cd " + shell_quote(work / "cwd-a") + " && umask 022 && TZ=UTC LC_ALL=C");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  ShellResult b = run_mrforge_cli({"build", "--frozen", "--offline", "--store", store, work / "b/nested/app/app.yaml",
                                   "-o", work / "out-b", "--json"},
                                  "cd " + shell_quote(work / "cwd-b") +
                                      " && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8 LANG=de_DE.UTF-8");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  CHECK(file_digests(work / "out-a") == file_digests(work / "out-b"));
  CHECK(builder::diff_paths(work / "out-a", work / "out-b").empty());
  ShellResult diff = run_mrforge_cli({"diff", work / "out-a", work / "out-b"});
  CHECK(diff.exit_code == 0);

  // build --json names the pinned service's source and layout.
  nlohmann::json built = nlohmann::json::parse(b.out);
  REQUIRE(built["services"].size() == 2);
  CHECK(built["services"][0]["name"] == "cache");
  CHECK(built["services"][0]["source"] == "oci-layout");
  CHECK(built["services"][0]["oci_layout"] == "vendor/redis");
  CHECK(built["services"][0]["digest"] == pin);
  CHECK(built["services"][1]["source"] == "recipe");

  // images/cache: skopeo's image under the pin, its blobs byte for byte.
  const std::string cache = work / "out-a/images/cache";
  nlohmann::json index = nlohmann::json::parse(read_text(cache + "/index.json"));
  REQUIRE(index["manifests"].size() == 1);
  CHECK(index["manifests"][0]["digest"] == pin);
  CHECK(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "docker.io/library/redis:7.2");
  CHECK(file_digests(cache + "/blobs/sha256") == file_digests(layout + "/blobs/sha256"));
  for (const auto &e : fs::directory_iterator(layout + "/blobs/sha256"))
    CHECK(read_text(e.path().string()) == read_text(cache + "/blobs/sha256/" + e.path().filename().string()));
  nlohmann::json cache_record = nlohmann::json::parse(read_text(cache + "/mrforge-build.json"));
  CHECK(cache_record["source"] == "oci-layout");
  CHECK(cache_record["oci_layout"] == "vendor/redis");
  CHECK(cache_record["manifest_digest"] == pin);
  CHECK_FALSE(cache_record.contains("lock_sha256"));
  CHECK_FALSE(cache_record.contains("recipe"));
  nlohmann::json record = nlohmann::json::parse(read_text(work / "out-a/mrforge-app.json"));
  CHECK(record["services"][0]["image"] == "docker.io/library/redis:7.2@" + pin);
  CHECK(read_text(work / "out-a/docker-compose.yaml").find("image: \"docker.io/library/redis:7.2@" + pin + "\"") !=
        std::string::npos);
  nlohmann::json app_compose = nlohmann::json::parse(read_text(work / "out-a/app-compose.json"));
  CHECK(app_compose["docker_compose_file"] == read_text(work / "out-a/docker-compose.yaml"));

  // skopeo reads both the copied layout (the pinned manifest) and the docker-archive (its config).
  write_text(work / "copied-manifest", sh(shell_quote(skopeo) + " inspect --raw " +
                                          shell_quote("oci:" + cache + ":docker.io/library/redis:7.2")));
  CHECK("sha256:" + sha256sum(work / "copied-manifest") == pin);
  nlohmann::json archive = nlohmann::json::parse(
      sh(shell_quote(skopeo) + " inspect " + shell_quote("docker-archive:" + cache + "/docker-archive.tar")));
  CHECK(archive["Layers"].size() == blob_json(layout, pin)["layers"].size());
  nlohmann::json archive_config = nlohmann::json::parse(
      sh(shell_quote(skopeo) + " inspect --config " + shell_quote("docker-archive:" + cache + "/docker-archive.tar")));
  CHECK(archive_config == blob_json(layout, blob_json(layout, pin)["config"]["digest"]));

  // Signed: the statement names the pinned service's files and says where it came from.
  ShellResult vs = sign_and_verify(work.path(), work / "out-a", work / "out-b");
  INFO(vs.out << vs.err);
  CHECK(vs.exit_code == 0);
  CHECK(vs.out.find("images/cache/docker-archive.tar") != std::string::npos);
  nlohmann::json statement = nlohmann::json::parse(sh(
      std::string(k_python) + " -c " +
      shell_quote("import base64,json,sys\nprint(base64.b64decode(json.load(open(sys.argv[1]))['payload']).decode())") +
      " " + shell_quote(work / "out-a.intoto.json")));
  nlohmann::json service = statement["predicate"]["app"]["services"][0];
  CHECK(service["name"] == "cache");
  CHECK(service["source"] == "oci-layout");
  CHECK(service["oci_layout"] == "vendor/redis");
  CHECK(service["oci"]["manifest_digest"] == pin);
  CHECK_FALSE(service.contains("lock"));
  CHECK(statement["predicate"]["app"]["services"][1]["source"] == "recipe");
  std::set<std::string> subjects;
  for (const auto &s : statement["subject"]) subjects.insert(s["name"].get<std::string>());
  CHECK(subjects.count("images/cache/blobs/sha256/" + pin.substr(7)) == 1);
  CHECK(subjects.count("images/cache/index.json") == 1);

  // verify --app: a TD that ran this app-compose.json matches the record; --json names the layout.
  make_td_document(work / "out-a/app-compose.json", work / "td.json");
  ShellResult verified = run_mrforge_cli({"verify", "--quote", work / "td.json", "--app", work / "out-a", "--json"});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
  nlohmann::json verified_json = nlohmann::json::parse(verified.out);
  CHECK(verified_json["app"]["compose_hash_match"] == true);
  REQUIRE(verified_json["app"]["services"].size() == 2);
  CHECK(verified_json["app"]["services"][0]["source"] == "oci-layout");
  CHECK(verified_json["app"]["services"][0]["oci_layout"] == "vendor/redis");
  CHECK(verified_json["app"]["services"][0]["image"] == "docker.io/library/redis:7.2@" + pin);

  // rebuild --against: the hello recipe rebuilt in a fresh store, the layout read and verified again.
  ShellResult rb =
      run_mrforge_cli({"rebuild", "-q", "--threads", "2", app_dir + "/app.yaml", "--against", work / "out-a",
                       "--envelope", work / "out-a.intoto.json", "--pub", work / "ci.pub"});
  INFO(rb.out << rb.err);
  CHECK(rb.exit_code == 0);
  CHECK(rb.out.find("IDENTICAL") != std::string::npos);
  // ... and a layout that changed since is refused, not compared.
  const std::string config_hex = blob_json(layout, pin)["config"]["digest"].get<std::string>().substr(7);
  write_text(layout + "/blobs/sha256/" + config_hex, read_text(layout + "/blobs/sha256/" + config_hex) + " ");
  ShellResult rb_bad = run_mrforge_cli({"rebuild", "-q", app_dir + "/app.yaml", "--against", work / "out-a"});
  CHECK(rb_bad.exit_code == 2);
  CHECK_THAT(rb_bad.err, Catch::Contains(layout + "/blobs/sha256/" + config_hex));
}
