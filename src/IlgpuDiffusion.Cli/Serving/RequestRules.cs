using System.Globalization;
using System.Text.Json;
using IlgpuDiffusion.Serving;
using Microsoft.AspNetCore.Http;

namespace IlgpuDiffusion.Cli.Serving;

/// <summary>
/// Checks the fields both completion routes share and turns them into the engine's <see cref="TextRequest"/>; every field out
/// of range is a 400 that names it. The engine checks what depends on the model (the prompt's length).
/// </summary>
internal static class RequestRules
{
    /// <summary>Refuses a request for another model than the served one (404); a request that names none is served.</summary>
    public static void RequireModel(SamplingBody body, string served)
    {
        if (body.Model is not null && body.Model != served)
            throw new ApiException(StatusCodes.Status404NotFound, $"The model '{body.Model}' does not exist here; this server " +
                $"serves '{served}'.", "model", "model_not_found");
    }

    /// <summary>The engine request of <paramref name="body"/> with <paramref name="prompt"/> and <paramref name="maxTokens"/>.</summary>
    /// <exception cref="ApiException">A field is out of range.</exception>
    public static TextRequest ToRequest(SamplingBody body, ServerOptions options, string prompt, string? suffix, int? maxTokens,
        string maxTokensField)
    {
        if (maxTokens is <= 0)
            throw ApiException.Invalid(maxTokensField, $"{maxTokensField} must be at least 1; got {maxTokens}.");
        if (body.Temperature is { } temperature && !(temperature >= 0 && double.IsFinite(temperature)))
            throw ApiException.Invalid("temperature", $"temperature must be a finite number ≥ 0 (0 is greedy); got {Show(temperature)}.");
        if (body.TopP is { } topP && !(topP > 0 && topP <= 1))
            throw ApiException.Invalid("top_p", $"top_p must be in (0, 1] (1 turns nucleus sampling off); got {Show(topP)}.");
        if (body.N is { } n && (n < 1 || n > options.MaxBatch))
            throw ApiException.Invalid("n", $"n must be in [1, {options.MaxBatch}] (the server's --max-batch); got {n}.");
        if (body.Steps is < 1)
            throw ApiException.Invalid("steps", $"steps (denoising steps) must be at least 1; got {body.Steps}.");
        return new TextRequest
        {
            Prompt = prompt,
            Suffix = suffix,
            MaxTokens = maxTokens,
            Samples = body.N ?? 1,
            Temperature = (float)(body.Temperature ?? 1),
            TopP = (float)(body.TopP ?? 1),
            Seed = body.Seed,
            Steps = body.Steps ?? options.DefaultSteps,
        };
    }

    /// <summary>The prompt of a completion request: a string, or an array of one string; absent is the empty prompt.</summary>
    public static string Prompt(JsonElement? prompt) => prompt switch
    {
        null or { ValueKind: JsonValueKind.Null } => "",
        { ValueKind: JsonValueKind.String } text => text.GetString()!,
        { ValueKind: JsonValueKind.Array } array when array.GetArrayLength() == 1 && array[0].ValueKind == JsonValueKind.String =>
            array[0].GetString()!,
        { ValueKind: JsonValueKind.Array } => throw ApiException.Invalid("prompt", "prompt must be a string or an array of one " +
            $"string; got an array of {prompt.Value.GetArrayLength()} elements (send one request per prompt, or use n)."),
        _ => throw ApiException.Invalid("prompt", $"prompt must be a string or an array of one string; got {Kind(prompt.Value)}."),
    };

    /// <summary>What a JSON value is, in words.</summary>
    public static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => "a number",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    private static string Show(double value) => value.ToString(CultureInfo.InvariantCulture);
}
