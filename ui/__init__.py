"""The Streamlit app: Today, Ask, Evals and Library pages over the same rag code as the CLI."""
