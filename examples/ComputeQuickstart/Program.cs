// Compute-layer quickstart: fit a two-layer GELU MLP to y = sin(3x) with the library's
// kernels (Linear, GELU, AdamW, gradient-norm clipping), on any backend:
//   dotnet run -c Release --project examples/ComputeQuickstart -- [auto|cpu|cuda|ilgpu-cpu]
// Parameters, gradients and moments live in arenas; the loop allocates nothing on the device.
using IlgpuDiffusion.Compute;

using var device = Device.Create(args.Length > 0 ? args[0] : "auto");
var k = device.Kernels;
Console.WriteLine($"Device: {device.Description}");

const int rows = 256, hidden = 64, steps = 600;
var layout = new ArenaLayout<float>();
int w1 = layout.Add("w1", new Shape(hidden, 1)), b1 = layout.Add("b1", new Shape(hidden));
int w2 = layout.Add("w2", new Shape(1, hidden)), b2 = layout.Add("b2", new Shape(1));
using var parameters = layout.Allocate(device);
using var gradients = layout.Allocate(device);
using var firstMoment = layout.Allocate(device);
using var secondMoment = layout.Allocate(device);
int count = (int)parameters.All.Length;

var random = new Random(1);
float[] Init(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
parameters[w1].CopyFrom(Init(hidden, 3.0));
parameters[b1].CopyFrom(Init(hidden, 3.0));
parameters[w2].CopyFrom(Init(hidden, 1.0 / Math.Sqrt(hidden)));

var xs = Enumerable.Range(0, rows).Select(i => -1f + 2f * i / (rows - 1)).ToArray();
var targets = xs.Select(x => MathF.Sin(3 * x)).ToArray();
var x = device.Upload<float>(xs, new Shape(rows, 1));
var pre = device.AllocateTensor<float>(new Shape(rows, hidden));
var act = device.AllocateTensor<float>(new Shape(rows, hidden));
var dAct = device.AllocateTensor<float>(new Shape(rows, hidden));
var dPre = device.AllocateTensor<float>(new Shape(rows, hidden));
var y = device.AllocateTensor<float>(new Shape(rows, 1));
var dY = device.AllocateTensor<float>(new Shape(rows, 1));
var norm = device.AllocateTensor<float>(new Shape(1));
var prediction = new float[rows];
var dPrediction = new float[rows];
var normHost = new float[1];
var hyper = new AdamWParameters(LearningRate: 1e-2f);

for (int step = 1; step <= steps; step++)
{
    // forward: pre = x·W1ᵀ + b1; act = GELU(pre); y = act·W2ᵀ + b2
    k.LinearForward(x, parameters[w1], parameters[b1], pre, rows, 1, hidden);
    k.GeluForward(pre, act, rows * hidden);
    k.LinearForward(act, parameters[w2], parameters[b2], y, rows, hidden, 1);

    // loss = mean (y − target)², its gradient computed on the host at the step boundary
    y.CopyTo(prediction);
    double loss = 0;
    for (int i = 0; i < rows; i++)
    {
        float error = prediction[i] - targets[i];
        loss += error * error / rows;
        dPrediction[i] = 2 * error / rows;
    }
    dY.CopyFrom(dPrediction);

    // backward (gradients accumulate, so clear them first)
    k.Fill(gradients.All, 0f, count);
    k.Fill(dAct, 0f, rows * hidden);
    k.Fill(dPre, 0f, rows * hidden);
    k.LinearBackward(dY, act, parameters[w2], dAct, gradients[w2], gradients[b2], rows, hidden, 1);
    k.GeluBackward(dAct, pre, dPre, rows * hidden);
    k.LinearBackward(dPre, x, parameters[w1], null, gradients[w1], gradients[b1], rows, 1, hidden);

    // clip the global gradient norm to 1, then AdamW
    k.SumOfSquares(gradients.All, norm, count);
    norm.CopyTo(normHost);
    float gradNorm = MathF.Sqrt(normHost[0]);
    k.AdamWStep(parameters.All, gradients.All, firstMoment.All, secondMoment.All, count, hyper, step,
        Math.Min(1f, 1f / (gradNorm + 1e-6f)));
    if (step == 1 || step % 100 == 0)
        Console.WriteLine($"step {step,4}  loss {loss:F5}  grad norm {gradNorm:F4}");
}
