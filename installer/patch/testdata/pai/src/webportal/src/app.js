const api = "https://api.github.com/repos/microsoft/pai";
