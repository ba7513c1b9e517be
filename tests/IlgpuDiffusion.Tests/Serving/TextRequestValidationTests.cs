using IlgpuDiffusion.Serving;
using IlgpuDiffusion.Tests.Conformance;
using Xunit;

namespace IlgpuDiffusion.Tests.Serving;

/// <summary>Requests the engine refuses at once, each with a message that names the setting and the limit.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class TextRequestValidationTests : IDisposable
{
    private readonly ServingModels _models = new();

    public static TheoryData<string, string> Refused => new()
    {
        {
            "max_tokens:14",
            "The prompt takes 3 tokens (BOS/EOS included) and the completion asks for 14 more: 17 exceeds the model's length of 16"
        },
        { "max_tokens:0", "MaxTokens must be at least 1; got 0." },
        { "temperature:-1", "Temperature must be finite and at least 0 (0: greedy); got -1." },
        { "temperature:NaN", "Temperature must be finite and at least 0 (0: greedy); got NaN." },
        { "top_p:0", "TopP must be in (0, 1]; got 0." },
        { "top_p:1.5", "TopP must be in (0, 1]; got 1.5." },
        { "samples:0", "Samples must be in [1, 4] (the engine's batch); got 0." },
        { "samples:5", "Samples must be in [1, 4] (the engine's batch); got 5." },
        { "steps:0", "Steps must be at least 1; got 0." },
        { "prompt:long", "The prompt takes 17 tokens (BOS/EOS included), leaving none" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_request_out_of_range_is_refused_with_a_message_naming_the_setting(string setting, string message)
    {
        using DiffusionLanguageModel model = _models.Diffusion();
        await using var engine = TextGenerationEngine.ForDiffusion(model, new TextEngineOptions { MaxBatch = 4 });
        TextRequest request = With(new TextRequest { Prompt = "ab" }, setting);

        var completeError = Assert.Throws<ArgumentException>(() => { _ = engine.CompleteAsync(request); });
        var streamError = Assert.Throws<ArgumentException>(() => engine.StreamAsync(request));

        Assert.StartsWith(message, completeError.Message, StringComparison.Ordinal);
        Assert.Equal(completeError.Message, streamError.Message);
        Assert.Equal(0, engine.QueueLength);
    }

    [Fact]
    public async Task A_gpt_engine_refuses_a_suffix_and_denoising_steps()
    {
        using GptLanguageModel model = _models.Gpt();
        await using var engine = TextGenerationEngine.ForGpt(model);

        var suffix = Assert.Throws<ArgumentException>(() => { _ = engine.CompleteAsync(new TextRequest { Prompt = "a", Suffix = "z" }); });
        var steps = Assert.Throws<ArgumentException>(() => { _ = engine.CompleteAsync(new TextRequest { Prompt = "a", Steps = 4 }); });

        Assert.Equal("Infilling (a suffix) needs a diffusion model; this engine serves an autoregressive (GPT) model.", suffix.Message);
        Assert.Equal("Steps apply to diffusion models only; an autoregressive (GPT) model draws one token per step.", steps.Message);
    }

    private static TextRequest With(TextRequest request, string setting)
    {
        string[] parts = setting.Split(':');
        return parts[0] switch
        {
            "max_tokens" => request with { MaxTokens = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) },
            "temperature" => request with { Temperature = float.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) },
            "top_p" => request with { TopP = float.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) },
            "samples" => request with { Samples = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) },
            "steps" => request with { Steps = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) },
            _ => request with { Prompt = new string('p', 16) },
        };
    }

    public void Dispose() => _models.Dispose();
}
