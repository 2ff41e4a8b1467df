#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/optim/loss_scaler.h"

using namespace mcpp::optim;

TEST_CASE("dynamic loss scaler: hysteresis, backoff, floor and growth") {
  LossScalerConfig config;
  config.initial_scale = 1024.0;
  config.min_scale = 128.0;
  config.growth_interval = 3;
  config.hysteresis = 2;
  LossScaler scaler(config);
  CHECK(scaler.scale() == 1024.0);
  scaler.update(true);  // first overflow: hysteresis 2 -> 1, no change
  CHECK(scaler.scale() == 1024.0);
  scaler.update(true);  // second: hysteresis -> 0, halve
  CHECK(scaler.scale() == 512.0);
  scaler.update(true);  // stays <= 0: every further overflow halves
  CHECK(scaler.scale() == 256.0);
  scaler.update(true);
  CHECK(scaler.scale() == 128.0);
  scaler.update(true);  // floored at min
  CHECK(scaler.scale() == 128.0);
  CHECK(scaler.state().hysteresis_tracker == -3);
  scaler.update(false);
  scaler.update(false);
  CHECK(scaler.scale() == 128.0);
  scaler.update(true);  // overflow resets the growth counter; hysteresis still <= 0: halve (floored)
  CHECK(scaler.state().growth_tracker == 0);
  scaler.update(false);
  scaler.update(false);
  scaler.update(false);  // 3 clean steps in a row: grow and restore hysteresis
  CHECK(scaler.scale() == 256.0);
  CHECK(scaler.state().hysteresis_tracker == 2);
  CHECK(scaler.state().growth_tracker == 0);
  scaler.update(true);  // hysteresis restored: one overflow is tolerated again
  CHECK(scaler.scale() == 256.0);
  CHECK(scaler.inverse_scale() == 1.0 / 256.0);
}

TEST_CASE("constant loss scaler never changes") {
  LossScalerConfig config;
  config.dynamic = false;
  config.initial_scale = 4096.0;
  LossScaler scaler(config);
  for (int i = 0; i < 5; ++i) scaler.update(i % 2 == 0);
  CHECK(scaler.scale() == 4096.0);
  scaler.restore({8.0, 1, 1});
  CHECK(scaler.scale() == 4096.0);
}

TEST_CASE("loss scaler state round trip") {
  LossScalerConfig config;
  config.growth_interval = 1000;
  LossScaler scaler(config);
  CHECK(scaler.scale() == 4294967296.0);
  scaler.update(true);
  scaler.update(true);
  scaler.update(false);
  const nlohmann::json saved = scaler.state();
  LossScaler resumed(config);
  resumed.restore(saved.get<LossScalerState>());
  CHECK(resumed.state() == scaler.state());
  CHECK(resumed.scale() == 2147483648.0);
  // Both continue identically.
  for (bool overflow : {false, true, true, false}) {
    scaler.update(overflow);
    resumed.update(overflow);
  }
  CHECK(resumed.state() == scaler.state());
}
