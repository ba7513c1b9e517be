using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Tests.LanguageModels;

/// <summary>
/// Random-weight models over the byte tokenizer (so that any prompt text encodes within their vocabulary), saved as
/// Hugging Face folders for the high-level API's tests.
/// </summary>
internal static class TinyLanguageModels
{
    /// <summary>The sampler's DiT over the byte tokenizer: 2 blocks, D 16, L 16.</summary>
    public static DitConfig Dit { get; } = TinyModels.SamplerDit() with
    {
        Vocab = ByteTokenizer.Shared.ModelVocabularySize,
        Tokenizer = ByteTokenizer.Name,
    };

    /// <summary>The random-weight GPT over the byte tokenizer, L 16.</summary>
    public static GptConfig Gpt { get; } = TinyModels.RandomGpt() with
    {
        Vocab = ByteTokenizer.Shared.VocabularySize,
        Length = 16,
        Tokenizer = ByteTokenizer.Name,
    };

    /// <summary>Saves a random <see cref="Dit"/> to <paramref name="folder"/>, naming the <paramref name="samplingSteps"/> given.</summary>
    public static string SaveDiffusion(Device device, string folder, int? samplingSteps = null)
    {
        using var model = new Dit(Dit, device, withGradients: false);
        TinyModels.Randomize(model.Parameters, seed: 7);
        HuggingFaceImport.Save(model.Parameters, folder, samplingSteps);
        return folder;
    }

    /// <summary>Saves a random <see cref="Gpt"/> to <paramref name="folder"/> as a GPT-2 folder.</summary>
    public static string SaveGpt(Device device, string folder)
    {
        using var model = new Gpt(Gpt, device, withGradients: false);
        TinyModels.LoadHfWeights(model.Parameters, TinyModels.HfWeights(Gpt, seed: 9));
        GptHuggingFace.Save(model.Parameters, folder);
        return folder;
    }
}
