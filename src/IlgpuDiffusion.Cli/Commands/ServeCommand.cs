using System.CommandLine;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Cli.Serving;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Serving;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary><c>serve</c>: an OpenAI-compatible HTTP endpoint (completions, chat completions) in front of one model.</summary>
internal static class ServeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("serve", "Serve a model over HTTP with OpenAI's API: GET /v1/models, POST /v1/completions and " +
            "POST /v1/chat/completions (JSON or server-sent events), concurrent requests batched together. Ctrl+C stops it.");
        var model = new Argument<string>("model")
        {
            Description = "A training checkpoint (.safetensors), a Hugging Face model folder or a Hugging Face repository id " +
                "(org/name[@revision]) in the local Hugging Face cache; a diffusion model or a GPT",
        };
        var port = new Option<int>("--port")
        {
            Description = "TCP port to listen on; 0 picks a free one",
            DefaultValueFactory = _ => 8000,
        }.Require(p => p is >= 0 and <= 65535, "in [0, 65535]");
        var host = new Option<string>("--host")
        {
            Description = "Address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (every network interface)",
            DefaultValueFactory = _ => "127.0.0.1",
        };
        var maxBatch = new Option<int>("--max-batch")
        {
            Description = "The most sequences generated together, across requests; also the largest n of one request",
            DefaultValueFactory = _ => 16,
        }.Positive();
        var maxQueue = new Option<int>("--max-queue")
        {
            Description = "Requests waiting beyond the batch; more are answered 429",
            DefaultValueFactory = _ => 64,
        }.Positive();
        var steps = new Option<int?>("--steps", "-n")
        {
            Description = "Denoising steps of requests that name none [default: a distilled student's own steps, else the sampler's]",
        }.Positive();
        var modelName = new Option<string?>("--model-name")
        {
            Description = "The model's name in the API (the request's \"model\") [default: the model argument]",
        };
        command.Arguments.Add(model);
        var device = new DeviceOptions(command);
        foreach (Option option in new Option[] { port, host, maxBatch, maxQueue, steps, modelName })
            command.Options.Add(option);

        command.SetAction(async (parse, cancellationToken) =>
        {
            string given = parse.GetValue(model)!;
            ModelSource source = ModelSource.Resolve(given);
            if (source.Kind == ModelKind.Autoregressive && parse.GetValue(steps) is not null)
                throw new UsageException($"'{given}' is a GPT, which generates left to right: --steps applies to diffusion models only.");
            var engineOptions = new TextEngineOptions
            {
                MaxBatch = parse.GetValue(maxBatch),
                MaxQueue = parse.GetValue(maxQueue),
                ModelName = parse.GetValue(modelName) ?? given,
            };
            using Device opened = device.Open(parse);
            using LoadedEngine loaded = LoadedEngine.Open(source, opened, engineOptions);
            var options = new ServerOptions(parse.GetValue(host)!, parse.GetValue(port), engineOptions.MaxBatch, parse.GetValue(steps));
            using IDisposable run = Interruption.BeginRun(
                "Stopping the server once the requests in flight are answered; press Ctrl+C again to quit at once.");
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Interruption.Token);
            await using CompletionServer server = await CompletionServer.StartAsync(loaded.Engine, options, stop.Token);
            console.Error.WriteLine($"Serving '{loaded.Engine.ModelName}' ({(loaded.Engine.IsDiffusion ? "diffusion" : "GPT")}, " +
                $"on {opened.Backend.Name()}) at {server.Address}v1 — Ctrl+C stops.");
            try
            {
                await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: stop accepting requests and let those in flight finish.
            }
            await server.StopAsync(CancellationToken.None);
            TextEngineStatistics done = loaded.Engine.Statistics;
            console.Error.WriteLine($"Stopped. Served {done.Requests} requests ({done.Sequences} sequences) in {done.Batches} " +
                $"batches: {done.ModelPasses} model passes.");
            return CliApplication.Success;
        });
        return command;
    }
}
