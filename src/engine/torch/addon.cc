// medrobust's native engine: a NetworkSpec (src/engine/network-spec.ts) run by libtorch.
//
// The addon holds the parameters in PyTorch names and layouts (the weight files' own), runs the
// graph in NCHW, and exchanges float32 arrays in NHWC with JavaScript (tfjs' layout, the
// Network contract's). It implements what DESIGN.md §2 asks of an engine outside tfjs:
//   - forward with taps, in inference mode (batch norm on running statistics, no dropout);
//   - forward keeping the autograd graph, then the pullback of output cotangents to the input
//     gradient (a vector–Jacobian product, torch::autograd::grad);
//   - one training step (batch norm on batch statistics updating running statistics, dropout,
//     cross-entropy or multi-label BCE), with SGD or Adam written out here with PyTorch's update
//     rules (torch.optim.SGD / torch.optim.Adam, single-tensor path) so that the optimiser state
//     can be exported and restored exactly;
//   - weights out, threads.
// Everything is synchronous, as the tfjs engines are.
#include <napi.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

enum class LayerKind { Normalize, Conv2d, BatchNorm, Relu, MaxPool, Add, GlobalAveragePool, Dense, Dropout };

struct Layer {
  LayerKind kind = LayerKind::Relu;
  std::string name;
  int64_t kernelSize = 1, stride = 1, padding = 0;
  bool bias = false;
  double epsilon = 1e-5, momentum = 0.1, rate = 0;
  std::vector<double> mean, std;
};

struct Node {
  std::string id;
  std::vector<int> inputs;  // indices into the value table; 0 is the network input
  Layer layer;
};

struct Parameter {
  std::string name;
  torch::Tensor value;
  bool trainable = true;
};

struct Pass {
  torch::Tensor input;  // NHWC leaf that requires grad
  std::vector<torch::Tensor> outputs;  // logits, then taps (NHWC or [batch, features])
};

std::string getString(const Napi::Object& object, const char* key) {
  return object.Get(key).As<Napi::String>().Utf8Value();
}
double getNumber(const Napi::Object& object, const char* key, double fallback) {
  Napi::Value value = object.Get(key);
  return value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : fallback;
}
bool getBool(const Napi::Object& object, const char* key, bool fallback) {
  Napi::Value value = object.Get(key);
  return value.IsBoolean() ? value.As<Napi::Boolean>().Value() : fallback;
}
std::vector<int64_t> getShape(const Napi::Value& value) {
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) shape[i] = array.Get(i).As<Napi::Number>().Int64Value();
  return shape;
}
std::vector<double> getNumbers(const Napi::Value& value) {
  Napi::Array array = value.As<Napi::Array>();
  std::vector<double> numbers(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) numbers[i] = array.Get(i).As<Napi::Number>().DoubleValue();
  return numbers;
}

// A copy of a JavaScript Float32Array as a tensor of the given shape.
torch::Tensor fromFloat32(const Napi::Env& env, const Napi::Value& value, const std::vector<int64_t>& shape) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "medrobust-torch: expected a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  int64_t size = 1;
  for (int64_t dimension : shape) size *= dimension;
  if (static_cast<int64_t>(array.ElementLength()) != size) {
    throw Napi::RangeError::New(env, "medrobust-torch: array length does not match its shape");
  }
  return torch::from_blob(array.Data(), shape, torch::kFloat32).clone();
}

Napi::Float32Array toFloat32(const Napi::Env& env, const torch::Tensor& tensor) {
  torch::Tensor contiguous = tensor.detach().to(torch::kFloat32).contiguous();
  Napi::Float32Array array = Napi::Float32Array::New(env, contiguous.numel());
  std::memcpy(array.Data(), contiguous.data_ptr<float>(), contiguous.numel() * sizeof(float));
  return array;
}

Napi::Array shapeOf(const Napi::Env& env, const torch::Tensor& tensor) {
  Napi::Array shape = Napi::Array::New(env, tensor.dim());
  for (int64_t i = 0; i < tensor.dim(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, tensor.size(i)));
  return shape;
}

Napi::Object hostTensor(const Napi::Env& env, const torch::Tensor& tensor) {
  Napi::Object object = Napi::Object::New(env);
  object.Set("shape", shapeOf(env, tensor));
  object.Set("data", toFloat32(env, tensor));
  return object;
}

// Activations are NCHW inside; the boundary is NHWC for rank 4 and unchanged otherwise.
torch::Tensor toBoundary(const torch::Tensor& tensor) {
  return tensor.dim() == 4 ? tensor.permute({0, 2, 3, 1}) : tensor;
}

class TorchNetwork : public Napi::ObjectWrap<TorchNetwork> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TorchNetwork",
                       {
                           InstanceMethod("forward", &TorchNetwork::Forward),
                           InstanceMethod("forwardWithPullback", &TorchNetwork::ForwardWithPullback),
                           InstanceMethod("pullback", &TorchNetwork::Pullback),
                           InstanceMethod("release", &TorchNetwork::Release),
                           InstanceMethod("trainStep", &TorchNetwork::TrainStep),
                           InstanceMethod("exportWeights", &TorchNetwork::ExportWeights),
                           InstanceMethod("exportOptimiser", &TorchNetwork::ExportOptimiser),
                           InstanceMethod("importOptimiser", &TorchNetwork::ImportOptimiser),
                           InstanceMethod("dispose", &TorchNetwork::Dispose),
                       });
  }

  // new TorchNetwork(spec, weights: {name, shape, data}[])
  explicit TorchNetwork(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TorchNetwork>(info) {
    Napi::Env env = info.Env();
    try {
      ParseSpec(env, info[0].As<Napi::Object>());
      Napi::Array weights = info[1].As<Napi::Array>();
      for (uint32_t i = 0; i < weights.Length(); i++) {
        Napi::Object weight = weights.Get(i).As<Napi::Object>();
        std::string name = getString(weight, "name");
        torch::Tensor value = fromFloat32(env, weight.Get("data"), getShape(weight.Get("shape")));
        bool trainable = getBool(weight, "trainable", true);
        parameterIndex_[name] = parameters_.size();
        parameters_.push_back({name, value, trainable});
      }
    } catch (const c10::Error& error) {
      throw Napi::Error::New(env, std::string("medrobust-torch: ") + error.what_without_backtrace());
    }
  }

 private:
  void ParseSpec(const Napi::Env& env, const Napi::Object& spec) {
    std::unordered_map<std::string, int> valueIndex{{"input", 0}};
    lastUse_.assign(1, -1);
    Napi::Array nodes = spec.Get("nodes").As<Napi::Array>();
    for (uint32_t i = 0; i < nodes.Length(); i++) {
      Napi::Object node = nodes.Get(i).As<Napi::Object>();
      Napi::Object layer = node.Get("layer").As<Napi::Object>();
      Node parsed;
      parsed.id = getString(node, "id");
      Napi::Array inputs = node.Get("inputs").As<Napi::Array>();
      for (uint32_t j = 0; j < inputs.Length(); j++) {
        std::string input = inputs.Get(j).As<Napi::String>().Utf8Value();
        auto found = valueIndex.find(input);
        if (found == valueIndex.end()) throw Napi::Error::New(env, "medrobust-torch: node " + parsed.id + " reads unknown " + input);
        parsed.inputs.push_back(found->second);
      }
      std::string kind = getString(layer, "kind");
      Layer& l = parsed.layer;
      if (kind == "normalize") {
        l.kind = LayerKind::Normalize;
        l.mean = getNumbers(layer.Get("mean"));
        l.std = getNumbers(layer.Get("std"));
      } else if (kind == "conv2d") {
        l.kind = LayerKind::Conv2d;
        l.name = getString(layer, "name");
        l.kernelSize = static_cast<int64_t>(getNumber(layer, "kernelSize", 1));
        l.stride = static_cast<int64_t>(getNumber(layer, "stride", 1));
        l.padding = static_cast<int64_t>(getNumber(layer, "padding", 0));
        l.bias = getBool(layer, "bias", false);
      } else if (kind == "batchNorm") {
        l.kind = LayerKind::BatchNorm;
        l.name = getString(layer, "name");
        l.epsilon = getNumber(layer, "epsilon", 1e-5);
        l.momentum = getNumber(layer, "momentum", 0.1);
      } else if (kind == "relu") {
        l.kind = LayerKind::Relu;
      } else if (kind == "maxPool") {
        l.kind = LayerKind::MaxPool;
        l.kernelSize = static_cast<int64_t>(getNumber(layer, "kernelSize", 1));
        l.stride = static_cast<int64_t>(getNumber(layer, "stride", 1));
        l.padding = static_cast<int64_t>(getNumber(layer, "padding", 0));
      } else if (kind == "add") {
        l.kind = LayerKind::Add;
      } else if (kind == "globalAveragePool") {
        l.kind = LayerKind::GlobalAveragePool;
      } else if (kind == "dense") {
        l.kind = LayerKind::Dense;
        l.name = getString(layer, "name");
        l.bias = getBool(layer, "bias", false);
      } else if (kind == "dropout") {
        l.kind = LayerKind::Dropout;
        l.rate = getNumber(layer, "rate", 0);
      } else {
        throw Napi::Error::New(env, "medrobust-torch: unsupported layer kind " + kind);
      }
      for (int input : parsed.inputs) lastUse_.at(input) = static_cast<int>(nodes_.size()) + 1;
      lastUse_.push_back(-1);
      valueIndex[parsed.id] = static_cast<int>(nodes_.size()) + 1;
      nodeIndex_[parsed.id] = static_cast<int>(nodes_.size()) + 1;
      nodes_.push_back(std::move(parsed));
    }
    std::string output = getString(spec, "output");
    if (nodeIndex_.find(output) == nodeIndex_.end()) throw Napi::Error::New(env, "medrobust-torch: unknown output " + output);
    output_ = nodeIndex_[output];
    Napi::Object taps = spec.Get("taps").As<Napi::Object>();
    Napi::Array tapNames = taps.GetPropertyNames();
    for (uint32_t i = 0; i < tapNames.Length(); i++) {
      std::string tap = tapNames.Get(i).As<Napi::String>().Utf8Value();
      std::string node = taps.Get(tap).As<Napi::String>().Utf8Value();
      auto found = valueIndex.find(node);
      if (found == valueIndex.end()) throw Napi::Error::New(env, "medrobust-torch: tap " + tap + " names unknown node " + node);
      tapIndex_[tap] = found->second;
    }
  }

  const torch::Tensor& Param(const std::string& name) {
    auto found = parameterIndex_.find(name);
    if (found == parameterIndex_.end()) throw std::runtime_error("medrobust-torch: no parameter " + name);
    return parameters_[found->second].value;
  }

  // Runs the graph on an NCHW input; returns every node's value (index 0: the input).
  // `keep`: value indices the caller reads afterwards (the logits, requested taps); every other
  // intermediate value is released after its last consumer, as PyTorch's own modules do, so peak
  // memory stays at what autograd (if any) keeps rather than every activation of the network.
  std::vector<torch::Tensor> Run(const torch::Tensor& input, bool training,
                                 std::vector<std::pair<std::string, torch::Tensor>>* counters,
                                 const std::vector<int>& keep) {
    std::vector<char> kept(nodes_.size() + 1, 0);
    for (int index : keep) kept.at(index) = 1;
    std::vector<torch::Tensor> values;
    values.reserve(nodes_.size() + 1);
    values.push_back(input);
    for (const Node& node : nodes_) {
      const torch::Tensor& x = values[node.inputs.at(0)];
      const Layer& l = node.layer;
      torch::Tensor y;
      switch (l.kind) {
        case LayerKind::Normalize: {
          auto options = torch::TensorOptions().dtype(torch::kFloat32);
          torch::Tensor mean = torch::tensor(std::vector<float>(l.mean.begin(), l.mean.end()), options).view({1, -1, 1, 1});
          torch::Tensor std = torch::tensor(std::vector<float>(l.std.begin(), l.std.end()), options).view({1, -1, 1, 1});
          y = (x - mean) / std;
          break;
        }
        case LayerKind::Conv2d:
          y = torch::conv2d(x, Param(l.name + ".weight"), l.bias ? Param(l.name + ".bias") : torch::Tensor(),
                            {l.stride, l.stride}, {l.padding, l.padding});
          break;
        case LayerKind::BatchNorm:
          y = torch::batch_norm(x, Param(l.name + ".weight"), Param(l.name + ".bias"), Param(l.name + ".running_mean"),
                                Param(l.name + ".running_var"), training, l.momentum, l.epsilon, false);
          if (training && counters != nullptr) counters->emplace_back(l.name + ".num_batches_tracked", torch::Tensor());
          break;
        case LayerKind::Relu:
          y = torch::relu(x);
          break;
        case LayerKind::MaxPool:
          y = torch::max_pool2d(x, {l.kernelSize, l.kernelSize}, {l.stride, l.stride}, {l.padding, l.padding});
          break;
        case LayerKind::Add:
          y = x + values[node.inputs.at(1)];
          break;
        case LayerKind::GlobalAveragePool:
          y = x.mean({2, 3});
          break;
        case LayerKind::Dense:
          y = torch::linear(x, Param(l.name + ".weight"), l.bias ? Param(l.name + ".bias") : torch::Tensor());
          break;
        case LayerKind::Dropout:
          y = training && l.rate > 0 ? torch::dropout(x, l.rate, true) : x;
          break;
      }
      values.push_back(y);
      int current = static_cast<int>(values.size()) - 1;
      for (int input : node.inputs) {
        if (lastUse_.at(input) == current && !kept.at(input)) values[input] = torch::Tensor();
      }
    }
    return values;
  }

  std::vector<int> KeepList(const Napi::Env& env, const Napi::Array& taps) {
    std::vector<int> keep{output_};
    for (uint32_t i = 0; i < taps.Length(); i++) keep.push_back(TapIndex(env, taps.Get(i).As<Napi::String>().Utf8Value()));
    return keep;
  }

  int TapIndex(const Napi::Env& env, const std::string& tap) {
    auto found = tapIndex_.find(tap);
    if (found == tapIndex_.end()) throw Napi::Error::New(env, "medrobust-torch: unknown tap " + tap);
    return found->second;
  }

  // The outputs at the boundary: logits, then each requested tap (NHWC for spatial activations).
  std::vector<torch::Tensor> Outputs(const Napi::Env& env, const std::vector<torch::Tensor>& values, const Napi::Array& taps) {
    std::vector<torch::Tensor> outputs{values.at(output_)};
    for (uint32_t i = 0; i < taps.Length(); i++) {
      outputs.push_back(toBoundary(values.at(TapIndex(env, taps.Get(i).As<Napi::String>().Utf8Value()))));
    }
    return outputs;
  }

  Napi::Object OutputsToJs(const Napi::Env& env, const std::vector<torch::Tensor>& outputs) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("logits", hostTensor(env, outputs.at(0)));
    Napi::Array taps = Napi::Array::New(env, outputs.size() - 1);
    for (size_t i = 1; i < outputs.size(); i++) taps.Set(static_cast<uint32_t>(i - 1), hostTensor(env, outputs[i]));
    result.Set("taps", taps);
    return result;
  }

  void CheckAlive(const Napi::Env& env) {
    if (disposed_) throw Napi::Error::New(env, "medrobust-torch: this network was disposed");
  }

  // forward(x: Float32Array, shape: [n, h, w, c], taps: string[]) → {logits, taps}
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    try {
      c10::InferenceMode guard;
      torch::Tensor x = fromFloat32(env, info[0], getShape(info[1])).permute({0, 3, 1, 2}).contiguous();
      Napi::Array taps = info[2].As<Napi::Array>();
      return OutputsToJs(env, Outputs(env, Run(x, false, nullptr, KeepList(env, taps)), taps));
    } catch (const c10::Error& error) {
      throw Napi::Error::New(env, std::string("medrobust-torch: ") + error.what_without_backtrace());
    }
  }

  // forwardWithPullback(x, shape, taps) → {id, logits, taps}; the graph is kept until release(id).
  Napi::Value ForwardWithPullback(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    try {
      torch::Tensor x = fromFloat32(env, info[0], getShape(info[1])).requires_grad_(true);
      torch::Tensor nchw = x.permute({0, 3, 1, 2}).contiguous();
      Napi::Array taps = info[2].As<Napi::Array>();
      Pass pass{x, Outputs(env, Run(nchw, false, nullptr, KeepList(env, taps)), taps)};
      Napi::Object result = OutputsToJs(env, pass.outputs);
      int id = nextPass_++;
      passes_.emplace(id, std::move(pass));
      result.Set("id", Napi::Number::New(env, id));
      return result;
    } catch (const c10::Error& error) {
      throw Napi::Error::New(env, std::string("medrobust-torch: ") + error.what_without_backtrace());
    }
  }

  // pullback(id, cotangents: Float32Array[] (logits, then taps, in the forward's order)) → input gradient NHWC
  Napi::Value Pullback(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    int id = info[0].As<Napi::Number>().Int32Value();
    auto found = passes_.find(id);
    if (found == passes_.end()) throw Napi::Error::New(env, "medrobust-torch: this forward pass was released");
    Pass& pass = found->second;
    Napi::Array cotangents = info[1].As<Napi::Array>();
    if (cotangents.Length() != pass.outputs.size()) throw Napi::Error::New(env, "medrobust-torch: one cotangent per output is needed");
    try {
      std::vector<torch::Tensor> outputs, grads;
      for (uint32_t i = 0; i < cotangents.Length(); i++) {
        Napi::Value cotangent = cotangents.Get(i);
        if (cotangent.IsNull() || cotangent.IsUndefined()) continue;
        outputs.push_back(pass.outputs[i]);
        grads.push_back(fromFloat32(env, cotangent, pass.outputs[i].sizes().vec()));
      }
      if (outputs.empty()) return toFloat32(env, torch::zeros_like(pass.input));
      auto gradient = torch::autograd::grad(outputs, {pass.input}, grads, /*retain_graph=*/true, false, /*allow_unused=*/true);
      return toFloat32(env, gradient[0].defined() ? gradient[0] : torch::zeros_like(pass.input));
    } catch (const c10::Error& error) {
      throw Napi::Error::New(env, std::string("medrobust-torch: ") + error.what_without_backtrace());
    }
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    passes_.erase(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }

  std::vector<size_t> Trainable() {
    std::vector<size_t> trainable;
    for (size_t i = 0; i < parameters_.size(); i++) {
      if (parameters_[i].trainable) trainable.push_back(i);
    }
    return trainable;
  }

  // trainStep(x, shape, labels: Float32Array, labelShape, classWeights: number[] | null, optimiser, seed,
  //           trades: {adversarial: Float32Array, beta} | null) → loss
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    try {
      torch::Tensor x = fromFloat32(env, info[0], getShape(info[1])).permute({0, 3, 1, 2}).contiguous();
      std::vector<int64_t> labelShape = getShape(info[3]);
      torch::Tensor labels = fromFloat32(env, info[2], labelShape);
      Napi::Object optimiser = info[5].As<Napi::Object>();
      torch::manual_seed(static_cast<uint64_t>(info[6].As<Napi::Number>().Int64Value()));
      std::vector<size_t> trainable = Trainable();
      std::vector<torch::Tensor> leaves;
      for (size_t index : trainable) leaves.push_back(parameters_[index].value.requires_grad_(true));
      torch::Tensor loss;
      std::vector<torch::Tensor> gradients;
      try {
        std::vector<std::pair<std::string, torch::Tensor>> counters;
        std::vector<torch::Tensor> values = Run(x, true, &counters, {output_});
        torch::Tensor logits = values.at(output_);
        if (labelShape.size() == 2) {
          loss = torch::binary_cross_entropy_with_logits(logits, labels);
        } else {
          torch::Tensor weight;
          if (info[4].IsArray()) {
            std::vector<double> weights = getNumbers(info[4]);
            if (static_cast<int64_t>(weights.size()) != logits.size(1)) throw Napi::Error::New(env, "medrobust-torch: one class weight per class is needed");
            weight = torch::tensor(std::vector<float>(weights.begin(), weights.end()));
          }
          loss = torch::nll_loss(torch::log_softmax(logits, 1), labels.to(torch::kLong), weight);
          // TRADES (Zhang et al. 2019): + β · mean KL(p(x) ‖ p(x′)), x′ through a second training-mode pass.
          if (info.Length() > 7 && info[7].IsObject()) {
            Napi::Object trades = info[7].As<Napi::Object>();
            torch::Tensor twin = fromFloat32(env, trades.Get("adversarial"), getShape(info[1])).permute({0, 3, 1, 2}).contiguous();
            double beta = trades.Get("beta").As<Napi::Number>().DoubleValue();
            torch::Tensor twinLogits = Run(twin, true, &counters, {output_}).at(output_);
            torch::Tensor logNatural = torch::log_softmax(logits, 1);
            torch::Tensor divergence = (logNatural.exp() * (logNatural - torch::log_softmax(twinLogits, 1))).sum(1).mean();
            loss = loss + beta * divergence;
          }
        }
        gradients = torch::autograd::grad({loss}, leaves);
        for (auto& counter : counters) {
          auto found = parameterIndex_.find(counter.first);
          if (found != parameterIndex_.end()) {
            torch::NoGradGuard noGrad;
            parameters_[found->second].value.add_(1);
          }
        }
      } catch (...) {
        for (torch::Tensor& leaf : leaves) leaf.requires_grad_(false);
        throw;
      }
      for (torch::Tensor& leaf : leaves) leaf.requires_grad_(false);
      Update(env, optimiser, trainable, gradients);
      return Napi::Number::New(env, loss.item<double>());
    } catch (const c10::Error& error) {
      throw Napi::Error::New(env, std::string("medrobust-torch: ") + error.what_without_backtrace());
    }
  }

  // PyTorch's update rules (torch/optim/sgd.py, adam.py, 1.13, single-tensor path), coupled weight decay.
  void Update(const Napi::Env& env, const Napi::Object& settings, const std::vector<size_t>& trainable,
              const std::vector<torch::Tensor>& gradients) {
    torch::NoGradGuard noGrad;
    std::string kind = getString(settings, "kind");
    std::string key = getString(settings, "key");
    double learningRate = getNumber(settings, "learningRate", 0.01);
    double weightDecay = getNumber(settings, "weightDecay", 0);
    if (key != optimiserKey_ || slots_.empty()) {
      optimiserKey_ = key;
      iterations_ = 0;
      beta1Power_ = 1;
      beta2Power_ = 1;
      slots_.clear();
      size_t perParameter = kind == "adam" ? 2 : 1;
      for (size_t s = 0; s < perParameter; s++) {
        for (size_t index : trainable) slots_.push_back(torch::zeros_like(parameters_[index].value));
      }
    }
    iterations_ += 1;
    if (kind == "sgd") {
      double momentum = getNumber(settings, "momentum", 0);
      bool nesterov = getBool(settings, "nesterov", false);
      for (size_t k = 0; k < trainable.size(); k++) {
        torch::Tensor& parameter = parameters_[trainable[k]].value;
        torch::Tensor gradient = weightDecay > 0 ? gradients[k] + weightDecay * parameter : gradients[k];
        torch::Tensor& buffer = slots_[k];
        buffer.mul_(momentum).add_(gradient);
        parameter.sub_(learningRate * (nesterov ? gradient + momentum * buffer : buffer));
      }
    } else if (kind == "adam") {
      double beta1 = getNumber(settings, "beta1", 0.9), beta2 = getNumber(settings, "beta2", 0.999);
      double epsilon = getNumber(settings, "epsilon", 1e-8);
      beta1Power_ *= beta1;
      beta2Power_ *= beta2;
      double stepSize = learningRate / (1 - beta1Power_);
      double correction2 = std::sqrt(1 - beta2Power_);
      size_t n = trainable.size();
      for (size_t k = 0; k < n; k++) {
        torch::Tensor& parameter = parameters_[trainable[k]].value;
        torch::Tensor gradient = weightDecay > 0 ? gradients[k] + weightDecay * parameter : gradients[k];
        torch::Tensor& first = slots_[k];
        torch::Tensor& second = slots_[n + k];
        first.mul_(beta1).add_(gradient, 1 - beta1);
        second.mul_(beta2).addcmul_(gradient, gradient, 1 - beta2);
        torch::Tensor denominator = (second.sqrt() / correction2).add_(epsilon);
        parameter.addcdiv_(first, denominator, -stepSize);
      }
    } else {
      throw Napi::Error::New(env, "medrobust-torch: unknown optimiser " + kind);
    }
  }

  Napi::Value ExportWeights(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    Napi::Array weights = Napi::Array::New(env, parameters_.size());
    for (size_t i = 0; i < parameters_.size(); i++) {
      Napi::Object weight = hostTensor(env, parameters_[i].value);
      weight.Set("name", parameters_[i].name);
      weights.Set(static_cast<uint32_t>(i), weight);
    }
    return weights;
  }

  // → {key, iterations, beta1Power, beta2Power, slots: {shape, data}[]} or null before the first step
  Napi::Value ExportOptimiser(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    if (slots_.empty()) return env.Null();
    Napi::Object state = Napi::Object::New(env);
    state.Set("key", optimiserKey_);
    state.Set("iterations", Napi::Number::New(env, static_cast<double>(iterations_)));
    state.Set("beta1Power", Napi::Number::New(env, beta1Power_));
    state.Set("beta2Power", Napi::Number::New(env, beta2Power_));
    Napi::Array slots = Napi::Array::New(env, slots_.size());
    for (size_t i = 0; i < slots_.size(); i++) slots.Set(static_cast<uint32_t>(i), hostTensor(env, slots_[i]));
    state.Set("slots", slots);
    return state;
  }

  // importOptimiser({key, iterations, beta1Power, beta2Power, slots})
  Napi::Value ImportOptimiser(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckAlive(env);
    Napi::Object state = info[0].As<Napi::Object>();
    Napi::Array slots = state.Get("slots").As<Napi::Array>();
    std::vector<torch::Tensor> restored;
    for (uint32_t i = 0; i < slots.Length(); i++) {
      Napi::Object slot = slots.Get(i).As<Napi::Object>();
      restored.push_back(fromFloat32(env, slot.Get("data"), getShape(slot.Get("shape"))));
    }
    slots_ = std::move(restored);
    optimiserKey_ = getString(state, "key");
    iterations_ = static_cast<int64_t>(getNumber(state, "iterations", 0));
    beta1Power_ = getNumber(state, "beta1Power", 1);
    beta2Power_ = getNumber(state, "beta2Power", 1);
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    passes_.clear();
    parameters_.clear();
    slots_.clear();
    disposed_ = true;
    return info.Env().Undefined();
  }

  std::vector<Node> nodes_;
  std::vector<int> lastUse_;  // per value index: the last node (value index) reading it, −1 if none
  std::unordered_map<std::string, int> nodeIndex_;
  std::map<std::string, int> tapIndex_;
  int output_ = 0;
  std::vector<Parameter> parameters_;
  std::unordered_map<std::string, size_t> parameterIndex_;
  std::unordered_map<int, Pass> passes_;
  int nextPass_ = 1;
  std::string optimiserKey_;
  int64_t iterations_ = 0;
  double beta1Power_ = 1, beta2Power_ = 1;
  std::vector<torch::Tensor> slots_;
  bool disposed_ = false;
};

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int threads = info[0].As<Napi::Number>().Int32Value();
  if (threads > 0) torch::set_num_threads(threads);
  return Napi::Number::New(info.Env(), torch::get_num_threads());
}

Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object description = Napi::Object::New(env);
  description.Set("torchVersion", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                                     std::to_string(TORCH_VERSION_PATCH));
  description.Set("threads", Napi::Number::New(env, torch::get_num_threads()));
  description.Set("mkldnn", Napi::Boolean::New(env, at::hasMKLDNN()));
  description.Set("openmp", Napi::Boolean::New(env, at::hasOpenMP()));
  return description;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("TorchNetwork", TorchNetwork::Define(env));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("describe", Napi::Function::New(env, Describe));
  return exports;
}

}  // namespace

NODE_API_MODULE(medrobust_torch, Init)
