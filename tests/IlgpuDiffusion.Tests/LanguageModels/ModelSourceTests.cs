using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.LanguageModels;

/// <summary>Resolving a model source: a model folder, or a repository id in a Hugging Face cache in the hub layout.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class ModelSourceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public void A_repo_id_resolves_through_refs_main_to_its_snapshot_of_linked_blobs()
    {
        string hub = _temp.File("hub");
        string snapshot = FakeHubCache.Add(hub, "org/tiny-student",
            TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("student"), samplingSteps: 8));

        ModelSource source = ModelSource.Resolve("org/tiny-student", hub);

        Assert.Equal((ModelKind.Diffusion, ModelFormat.HuggingFaceFolder, 8), (source.Kind, source.Format, source.SamplingSteps));
        Assert.Equal(snapshot, source.Path);
        Assert.Equal("org/tiny-student", source.Given);
        using Dit model = source.LoadDiffusion(TinyModels.Cpu);
        Assert.Equal(TinyLanguageModels.Dit, model.Config);
    }

    [Fact]
    public void A_revision_names_a_branch_or_a_commit()
    {
        string hub = _temp.File("hub");
        FakeHubCache.Add(hub, "org/tiny-gpt", TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt")), revision: "v1");

        Assert.Equal(ModelKind.Autoregressive, ModelSource.Resolve("org/tiny-gpt@v1", hub).Kind);
        Assert.Equal(ModelKind.Autoregressive, ModelSource.Resolve($"org/tiny-gpt@{FakeHubCache.Commit}", hub).Kind);
        var missing = Assert.Throws<FileNotFoundException>(() => ModelSource.Resolve("org/tiny-gpt", hub));
        Assert.Contains("not its revision 'main'", missing.Message);
    }

    [Fact]
    public void A_repo_id_missing_from_the_cache_names_the_cache_and_how_to_download_it()
    {
        string hub = _temp.File("empty-hub");

        var error = Assert.Throws<FileNotFoundException>(() => ModelSource.Resolve("org/absent", hub));

        Assert.Contains($"'{hub}'", error.Message);
        Assert.Contains("huggingface-cli download org/absent", error.Message);
        Assert.Contains("Nothing is downloaded", error.Message);
    }

    [Fact]
    public void A_path_that_is_no_repo_id_and_does_not_exist_is_named()
    {
        string path = _temp.File("nothing.safetensors");

        var error = Assert.Throws<FileNotFoundException>(() => ModelSource.Resolve(path, _temp.Path));

        Assert.Contains($"'{path}' does not exist", error.Message);
    }

    [Fact]
    public void The_cache_root_is_HF_HUB_CACHE_else_HF_HOME_hub_else_the_home_folders_cache()
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal("/hub", HuggingFaceCache.RootFrom(name => name switch { "HF_HUB_CACHE" => "/hub", "HF_HOME" => "/home", _ => null }));
        Assert.Equal(Path.Combine("/hf", "hub"), HuggingFaceCache.RootFrom(name => name == "HF_HOME" ? "/hf" : null));
        Assert.Equal(Path.Combine(home, ".cache", "huggingface", "hub"), HuggingFaceCache.RootFrom(_ => null));
    }

    [Fact]
    public void A_diffusion_folder_is_refused_as_a_gpt_and_the_other_way_round()
    {
        string dit = TinyLanguageModels.SaveDiffusion(TinyModels.Cpu, _temp.File("dit"));
        string gpt = TinyLanguageModels.SaveGpt(TinyModels.Cpu, _temp.File("gpt"));

        Assert.Contains("not an autoregressive", Assert.Throws<InvalidOperationException>(
            () => ModelSource.Resolve(dit).LoadGpt(TinyModels.Cpu)).Message);
        Assert.Contains("not a diffusion model", Assert.Throws<InvalidOperationException>(
            () => ModelSource.Resolve(gpt).LoadDiffusion(TinyModels.Cpu)).Message);
        Assert.Throws<ArgumentException>(() => DiffusionLanguageModel.Load(gpt, TinyModels.Cpu));
        Assert.Throws<ArgumentException>(() => GptLanguageModel.Load(dit, TinyModels.Cpu));
    }

    public void Dispose() => _temp.Dispose();
}
