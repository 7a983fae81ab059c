from .inpaint_data_sample import InpaintDataSample

__all__ = ['InpaintDataSample']
